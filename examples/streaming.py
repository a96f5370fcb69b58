"""Stream a reply token by token, then read the merged message and its metrics.

OLLAMA_HOST=127.0.0.1:11434 python examples/streaming.py [model]
"""

import sys

import qwenkit

model = sys.argv[1] if len(sys.argv) > 1 else "qwenkit-chat"
messages = [{"role": "user", "content": "Write a haiku about local LLMs."}]
with qwenkit.Client() as client, client.chat(model, messages, stream=True) as stream:
    for chunk in stream:  # the HTTP response closes when the loop ends, breaks or fails
        print(chunk.message.content, end="", flush=True)
    final = stream.final()  # content, thinking, tool calls and metrics merged
print(f"\n[{final.eval_count} tokens in {final.eval_duration / 1e9:.1f}s]")
