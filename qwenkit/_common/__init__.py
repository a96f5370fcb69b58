"""Small helpers every layer may use: host settings, files, the parameter table, images as
base64, modules imported on first use, the `Check` every report is made of.

Nothing here imports another qwenkit package except `qwenkit.errors`.
"""
