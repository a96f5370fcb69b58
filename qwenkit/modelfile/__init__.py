"""Ollama Modelfiles as values: parse, validate, render, and round-trip them losslessly."""

from ._modelfile import DeprecatedParameterWarning, Modelfile, ParamValue
from ._show import parse_show_parameters

__all__ = ["DeprecatedParameterWarning", "Modelfile", "ParamValue", "parse_show_parameters"]
