"""The same API with asyncio: several questions at once over one connection pool.

OLLAMA_HOST=127.0.0.1:11434 python examples/async_chat.py [model]
"""

import asyncio
import sys

import qwenkit


async def main(model: str) -> None:
    questions = ["Capital of France?", "Capital of Japan?", "Capital of Kenya?"]
    async with qwenkit.AsyncClient() as client:
        replies = await asyncio.gather(
            *(client.chat(model, [{"role": "user", "content": q}]) for q in questions)
        )
        for question, reply in zip(questions, replies, strict=True):
            print(f"{question} {reply.message.content}")
        async for chunk in await client.chat(
            model, [{"role": "user", "content": "Count to five."}], stream=True
        ):
            print(chunk.message.content, end="", flush=True)
    print()


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "qwenkit-chat"))
