"""Small helpers every layer may use: host settings, files, the parameter table.

Nothing here imports another qwenkit package except `qwenkit.errors`.
"""
