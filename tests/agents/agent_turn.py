"""Run one agent turn in a fresh process (the checkpointer-resume test): ``python agent_turn.py URL THREAD TEXT``.

Prints the JSON list of ``[type, content]`` of the thread's messages after the turn, and the number of messages the
model was given on its call.
"""

from __future__ import annotations

import json
import sys

from langchain.agents import create_agent
from langchain_core.messages import AIMessage

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from conftest import ToolFakeChatModel

from redis_rag_integrations.langchain.agents import checkpointer

url, thread, text = sys.argv[1:4]
model = ToolFakeChatModel(messages=iter([AIMessage(f"answer to {text}")]))
agent = create_agent(model, checkpointer=checkpointer(url))
result = agent.invoke({"messages": [{"role": "user", "content": text}]}, {"configurable": {"thread_id": thread}})
print(json.dumps({"messages": [[m.type, m.content] for m in result["messages"]], "seen": len(model.calls[0])}))
