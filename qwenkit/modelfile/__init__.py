"""Ollama Modelfiles as values: parse, validate, render, and round-trip them losslessly."""

from ._modelfile import DeprecatedParameterWarning, Modelfile, ParamValue

__all__ = ["DeprecatedParameterWarning", "Modelfile", "ParamValue"]
