"""The official OpenAI Python SDK against `strata serve`, in strict response
validation mode (every response and chunk is checked against the SDK's own
models). Run by OpenAIClientTests: `python openai_client.py SCENARIO BASE_URL KEY MODEL`;
prints one JSON object with what the test asserts."""
import json
import sys

import openai
from openai import OpenAI

scenario, base_url, key, model = sys.argv[1:5]
messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]


def client(retries=0, api_key=key):
    return OpenAI(base_url=base_url, api_key=api_key, max_retries=retries, _strict_response_validation=True)


def error(exc):
    return {"class": type(exc).__name__, "status": getattr(exc, "status_code", None), "code": getattr(exc, "code", None),
            "param": getattr(exc, "param", None), "type": getattr(exc, "type", None), "message": str(exc)}


def usage(u):
    return None if u is None else u.model_dump()


def whole():
    raw = client().chat.completions.with_raw_response.create(model=model, messages=messages, seed=7)
    completion = raw.parse()
    return {"content": completion.choices[0].message.content, "role": completion.choices[0].message.role,
            "finish_reason": completion.choices[0].finish_reason, "model": completion.model,
            "request_id": completion._request_id, "usage": usage(completion.usage),
            "calls_header": raw.headers.get("x-strata-calls")}


def stream(include_usage=True):
    kwargs = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = list(client().chat.completions.create(model=model, messages=messages, seed=7, stream=True, **kwargs))
    with_choices = [c for c in chunks if c.choices]
    return {"content": "".join(c.choices[0].delta.content or "" for c in with_choices),
            "first_role": with_choices[0].choices[0].delta.role if with_choices else None,
            "finish_reasons": [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason],
            "last_has_no_choices": not chunks[-1].choices, "last_usage": usage(chunks[-1].usage),
            "other_usages": [usage(c.usage) for c in chunks[:-1]], "chunks": len(chunks)}


def models():
    c = client()
    listed = [m.id for m in c.models.list()]
    one = c.models.retrieve(model)
    try:
        c.models.retrieve(model + "-nope")
        missing = None
    except openai.APIStatusError as exc:
        missing = error(exc)
    return {"listed": listed, "retrieved": one.id, "owned_by": one.owned_by, "missing": missing}


def expect_error(call):
    try:
        call()
    except openai.APIError as exc:
        return error(exc)
    return {"class": None}


def wrong_key():
    return expect_error(lambda: client(api_key="sk-wrong-0000").chat.completions.create(model=model, messages=messages))


def tools():
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    return expect_error(lambda: client().chat.completions.create(model=model, messages=messages, tools=[tool]))


def retried():
    # The SDK's own retries (2), honouring Retry-After and x-should-retry.
    return expect_error(lambda: client(retries=2).chat.completions.create(model=model, messages=messages))


def streamed_failure():
    def call():
        for _ in client().chat.completions.create(model=model, messages=messages, stream=True):
            pass
    return expect_error(call)


scenarios = {"whole": whole, "stream": stream, "stream_no_usage": lambda: stream(False), "models": models,
             "wrong_key": wrong_key, "tools": tools, "retried": retried, "streamed_failure": streamed_failure}
print(json.dumps(scenarios[scenario]()))
