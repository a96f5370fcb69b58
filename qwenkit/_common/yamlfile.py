"""Configuration files as YAML (docker compose): pyyaml's safe dumper under a comment header.

`safe_dump` quotes every string a YAML 1.1 reader would take for something else (`"no"`,
`"1"`, `"a: b"`), so an environment value stays a string in docker compose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml


def dump_yaml(data: Mapping[str, Any], header: Iterable[str] = ()) -> str:
    """Block-style YAML in the order given, after `header` as `#` comment lines.

    >>> print(dump_yaml({"a": {"b": [1, "no"], "c": {}}, "d": True}, ["made here", ""]), end="")
    # made here
    #
    a:
      b:
      - 1
      - 'no'
      c: {}
    d: true
    """
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header)
    body = yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False, width=1000)
    return comments + str(body)
