"""Let the model call Python functions; qwenkit builds the schemas and runs the loop.

OLLAMA_HOST=127.0.0.1:11434 python examples/tool_calling.py [model]
"""

import sys
from typing import Literal

import qwenkit


def get_temperature(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> float:
    """Current temperature in a city.

    Args:
        city: City name, e.g. "Tokyo".
        unit: Temperature unit.
    """
    celsius = {"tokyo": 21.5, "oslo": 4.0}.get(city.lower(), 15.0)
    return celsius if unit == "celsius" else celsius * 9 / 5 + 32


def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: First number.
        b: Second number.
    """
    return a + b


model = sys.argv[1] if len(sys.argv) > 1 else "qwenkit-agent"  # the variant tuned for tools
question = "What is the temperature in Tokyo plus the temperature in Oslo, in celsius?"
with qwenkit.Client() as client:
    try:
        reply = client.chat(
            model,
            [{"role": "user", "content": question}],
            tools=[get_temperature, add],  # schemas from type hints + docstrings
            run_tools=True,  # arguments validated, results sent back as tool messages
            max_tool_rounds=4,
        )
    except qwenkit.ToolRoundsError as err:  # still calling tools after 4 rounds
        print(f"stopped: {err}")
        reply = err.response  # nothing is lost: the transcript and the unrun calls
for message in reply.messages or []:
    if message.role == "tool":
        print(f"  {message.tool_name} -> {message.content}")
print(reply.message.content)
