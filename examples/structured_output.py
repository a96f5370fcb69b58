"""Get a validated pydantic object back; invalid answers are re-asked with the errors.

OLLAMA_HOST=127.0.0.1:11434 python examples/structured_output.py [model]
"""

import sys

from pydantic import BaseModel, Field

import qwenkit


class City(BaseModel):
    name: str
    country: str
    population: int = Field(ge=0, description="inhabitants of the city proper")


model = sys.argv[1] if len(sys.argv) > 1 else "qwenkit-json"  # the variant tuned for JSON
with qwenkit.Client() as client:
    try:
        reply = client.chat(
            model,
            [{"role": "user", "content": "Give me the largest city in Japan as JSON."}],
            response_model=City,  # sent as `format`, validated into .parsed
            max_retries=2,
            options={"temperature": 0},
        )
    except qwenkit.StructuredOutputError as err:  # TruncatedOutputError if cut at num_predict
        sys.exit(f"no valid answer: {err}\nlast raw text: {err.raw!r}")
    city = reply.parsed
    print(f"{city.name}, {city.country}: {city.population:,}")
