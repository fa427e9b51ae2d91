#!/usr/bin/env python3
"""Classifies fused answers: does an answer answer the request, or describe the
candidates it was given? Reads JSONL lines {"id", "answer"} (strata run's batch
output) and the questions file; prints one verdict per item and the rate.

An answer "describes the candidates" when it refers to them ("response 2",
"the drafts", "the provided responses", "refined, accurate and complete ...",
"thank you for providing"), starts with a candidate label such as "[2]", or
only repeats the question. The rule is deliberately literal so that it can be
re-run on any model's output and give the same verdicts."""
import json, re, sys

REFERS = re.compile(r"\b(responses?\s*\d|the (given|provided|above) (responses?|answers?|drafts?)|the drafts?\b|drafts? \d|"
                    r"candidates?\b|refined,? accurate|thank you for providing|based on the (provided|given))", re.I)

def describes(question: str, answer: str) -> bool:
    text = answer.strip()
    if not text:
        return True
    if re.match(r"^\[\d+\]", text):
        return True
    if text.rstrip("?.! ").lower() == question.rstrip("?.! ").lower():
        return True
    return bool(REFERS.search(text)) and not REFERS.search(question)

def main(questions_path: str, answers_path: str) -> None:
    questions = {}
    for line in open(questions_path):
        if line.strip():
            item = json.loads(line)
            questions[str(item["id"])] = item["prompt"]
    flagged = total = 0
    for line in open(answers_path):
        if not line.strip():
            continue
        item = json.loads(line)
        answer = item.get("answer")
        verdict = "no answer" if answer is None else ("DESCRIBES" if describes(questions[str(item["id"])], answer) else "answers")
        total += 1
        flagged += verdict != "answers"
        print(f"{item['id']:>16}  {verdict:<10} {(answer or item.get('failure', ''))[:70]!r}")
    print(f"describes the candidates or no answer: {flagged}/{total}")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
