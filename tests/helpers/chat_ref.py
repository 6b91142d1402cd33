"""Reference chat-template rendering: transformers' render_jinja_template (Python jinja2 in the
environment transformers sets up), for tests/llm/chat_test.ts.

usage: chat_ref.py CASES.json   (a list of {template, messages, tools?, documents?,
       add_generation_prompt, bos_token, eos_token, variables?})
prints a JSON list of {"ok": true, "text": ...} or {"ok": false, "error": ...}
"""
import json
import sys

from transformers.utils.chat_template_utils import render_jinja_template

out = []
for c in json.load(open(sys.argv[1], encoding="utf-8")):
    try:
        rendered, _ = render_jinja_template(
            conversations=[c["messages"]],
            tools=c.get("tools"),
            documents=c.get("documents"),
            chat_template=c["template"],
            add_generation_prompt=c["add_generation_prompt"],
            bos_token=c["bos_token"],
            eos_token=c["eos_token"],
            **c.get("variables", {}),
        )
        out.append({"ok": True, "text": rendered[0]})
    except Exception as e:  # the template raised: the test expects ours to raise too
        out.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
json.dump(out, sys.stdout, ensure_ascii=False)
