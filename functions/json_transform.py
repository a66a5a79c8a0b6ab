"""JSON transform: generate `records` items, serialise, parse, transform and summarise them.

Cost grows linearly with `records` (and with `fields` per record).

Parameters:
  records  (int, default 1000, 0..200000) items to generate
  fields   (int, default 8, 1..64) extra numeric fields per item
  seed     (int, default 1) generator seed

Result: {"records", "bytes" (of the serialised input), "by_region" (count and mean score per
region), "top" (ids of the 5 best scores)}.
"""

import json
import random

REGIONS = ["eu-west", "eu-north", "us-east", "us-west", "ap-south"]


def main(args):
    records = int(args.get("records", 1000))
    fields = int(args.get("fields", 8))
    seed = int(args.get("seed", 1))
    if not 0 <= records <= 200_000:
        return {"error": "records must be between 0 and 200000"}
    if not 1 <= fields <= 64:
        return {"error": "fields must be between 1 and 64"}
    rng = random.Random(seed)
    items = [
        {
            "id": "item-%06d" % i,
            "region": REGIONS[rng.randrange(len(REGIONS))],
            "values": {"f%d" % k: rng.random() for k in range(fields)},
            "tags": [rng.choice("abcdefgh") for _ in range(3)],
        }
        for i in range(records)
    ]
    text = json.dumps(items)
    parsed = json.loads(text)
    summary = {}
    scored = []
    for item in parsed:
        score = sum(item["values"].values()) / fields
        if "a" in item["tags"]:
            score *= 1.1
        scored.append((score, item["id"]))
        entry = summary.setdefault(item["region"], {"count": 0, "score_sum": 0.0})
        entry["count"] += 1
        entry["score_sum"] += score
    by_region = {
        region: {"count": e["count"], "mean_score": e["score_sum"] / e["count"]}
        for region, e in sorted(summary.items())
    }
    scored.sort(reverse=True)
    return {
        "records": records,
        "bytes": len(text),
        "by_region": by_region,
        "top": [i for _, i in scored[:5]],
    }
