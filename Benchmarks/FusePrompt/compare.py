#!/usr/bin/env python3
"""Side by side, on the same candidates: the old fuse prompt (a user message
after the candidates) against the current one (a system message, then the
user's own request), on the local model (scripts/local-llm start).

For each question of questions.jsonl: two samples as the quickstart's ensemble
makes them (temperature 0.7, seeds 1 and 2), then one fuse call per prompt
(temperature 0.3, seed 1). Prints each answer's verdict (classify.py) and the
rates. Usage: Benchmarks/FusePrompt/compare.py [BASE_URL]"""
import concurrent.futures, json, os, sys, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from classify import describes

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/v1"
OLD = """You have been given several responses to the latest user query. Synthesize them into one high-quality response. \
Evaluate them critically: some of them may be biased, incomplete or wrong. Do not copy any one of them; write a refined, \
accurate and complete answer to the instruction. Follow the instruction's format exactly.

Instruction: {query}

Responses:
{candidates}"""
NEW = """You answer the user's request. Other assistants have drafted answers to it; some drafts may be wrong, \
incomplete or badly formatted. Synthesize what is right in them, fix what is wrong, and write your own \
complete answer in the format the request asks for. Never mention the drafts.

The request: {query}

Drafts:
{candidates}"""
SYSTEM = "You are a helpful assistant. Answer the user's request accurately and completely."

def call(messages, seed, temperature, max_tokens):
    body = json.dumps({"model": "local", "messages": messages, "temperature": temperature,
                       "max_tokens": max_tokens, "seed": seed}).encode()
    request = urllib.request.Request(BASE + "/chat/completions", body, {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request, timeout=600))["choices"][0]["message"]["content"]

def run(item):
    query = item["prompt"]
    drafts = [call([{"role": "system", "content": SYSTEM}, {"role": "user", "content": query}], seed, 0.7, 512) for seed in (1, 2)]
    candidates = "\n\n".join(f"[{i + 1}] {text}" for i, text in enumerate(drafts))
    old = call([{"role": "user", "content": OLD.format(query=query, candidates=candidates)}], 1, 0.3, 768)
    new = call([{"role": "system", "content": NEW.format(query=query, candidates=candidates)},
                {"role": "user", "content": query}], 1, 0.3, 768)
    return item, old, new

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    items = [json.loads(line) for line in open(os.path.join(here, "questions.jsonl")) if line.strip()]
    counts = {"old": 0, "new": 0}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for item, old, new in pool.map(run, items):
            for name, answer in (("old", old), ("new", new)):
                flagged = describes(item["prompt"], answer)
                counts[name] += flagged
                print(f"{item['id']:>16} {name}: {'DESCRIBES' if flagged else 'answers  '} {answer[:70]!r}")
    print(f"describes the candidates: old prompt {counts['old']}/{len(items)}, new prompt {counts['new']}/{len(items)}")

if __name__ == "__main__":
    main()
