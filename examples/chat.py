"""One chat turn with the typed client.

OLLAMA_HOST=127.0.0.1:11434 python examples/chat.py [model]
"""

import sys

import qwenkit

model = sys.argv[1] if len(sys.argv) > 1 else "qwenkit-chat"
with qwenkit.Client() as client:  # reads OLLAMA_HOST; 5 s connect timeout, no read limit
    reply = client.chat(
        model,
        [{"role": "user", "content": "In one sentence: why is the sky blue?"}],
        options={"temperature": 0.7},  # checked before sending: a typo such as num_ctxx fails
    )
    print(reply.message.content)
    print(f"[{reply.eval_count} tokens, done_reason={reply.done_reason}]")
