"""Run one agent turn in a fresh process (the checkpointer-resume test): ``python agent_turn.py URL THREAD TEXT``.

Prints the JSON list of ``[type, content]`` of the thread's messages after the turn, and the number of messages the
model was given on its call. Self-contained (no test modules imported), so it runs in any process.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from redis_rag_integrations.langchain.agents import checkpointer

seen: list[int] = []


class Model(GenericFakeChatModel):
    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        seen.append(len(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


url, thread, text = sys.argv[1:4]
agent = create_agent(Model(messages=iter([AIMessage(f"answer to {text}")])), checkpointer=checkpointer(url))
result = agent.invoke({"messages": [{"role": "user", "content": text}]}, {"configurable": {"thread_id": thread}})
print(json.dumps({"messages": [[m.type, m.content] for m in result["messages"]], "seen": seen[0]}))
