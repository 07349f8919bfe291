#!/usr/bin/env python3
"""Compares two twp output trees (a results folder, a snapshot folder, or any folder holding them)
file by file, and exits 1 when they differ.

    tools/compare_results.py REFERENCE CANDIDATE [--skip-png]

What "the same" means, per file:
  - results.json: equal after dropping what measures time (stage_seconds, each base run's seconds
    and train_images_per_second, predictor_training.seconds) and the backend's description, and
    with predictor.model_path cut to its last two parts (models/<file>);
  - config.txt: equal but for its "Build:" line (the compile date) and paths;
  - results_summary.txt: shown, not held to identity: it is worded from the numbers results.json
    holds (a redesign may reword it), so its differing lines are printed and do not fail the check;
  - .twp.lock: ignored (a lock's content is the process that held it);
  - *.png: byte-identical unless --skip-png (plots may change on purpose; their data, the .csv
    beside each, is still compared byte for byte);
  - every other file (snapshots, checkpoints, index.json, model files, CSVs): byte-identical.
Files present on one side only are differences too. Folder names that hold a time stamp
(experiment_YYYYMMDD_HHMMSS) are matched by their position in sorted order.
"""
import difflib
import json
import re
import sys
from pathlib import Path

STAMP = re.compile(r"^experiment_\d{8}_\d{6}(_\d+)?$")


def normalized_json(path):
    j = json.loads(path.read_text())
    j.pop("stage_seconds", None)
    j.pop("backend", None)
    for run in j.get("base_model", {}).get("runs", []):
        run.pop("seconds", None)
        run.pop("train_images_per_second", None)
    j.get("predictor_training", {}).pop("seconds", None)
    predictor = j.get("predictor", {})
    if "model_path" in predictor:  # where the folder lies: models/<file> is what must agree
        predictor["model_path"] = "/".join(Path(predictor["model_path"]).parts[-2:])
    return json.dumps(j, sort_keys=False, indent=1)


def normalized_text(path, drop_prefixes):
    return "\n".join(line for line in path.read_text().splitlines()
                     if not line.startswith(tuple(drop_prefixes)))


def comparable(path):
    name = path.name
    if name == "results.json":
        return normalized_json(path)
    if name == "config.txt":
        return normalized_text(path, ("Build:", "snapshot_dir:", "results_dir:", "data_dir:", "model_path:",
                                      "Command line:", "Backend:", "Device:"))
    if name == "results_summary.txt":
        return normalized_text(path, ("Stage times:",))
    return path.read_bytes()


def files(root):
    """Relative paths of every file under root, experiment_<stamp> folders renamed by rank."""
    out = {}
    for base in sorted([root] + [p for p in root.rglob("*") if p.is_dir()]):
        stamped = sorted(p for p in base.iterdir() if p.is_dir() and STAMP.match(p.name))
        for rank, folder in enumerate(stamped):
            for f in folder.rglob("*"):
                if f.is_file():
                    out[str(Path(base.relative_to(root), f"experiment#{rank}", f.relative_to(folder)))] = f
    for f in root.rglob("*"):
        if f.is_file() and not any(STAMP.match(part) for part in f.relative_to(root).parts):
            out[str(f.relative_to(root))] = f
    return out


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    skip_png = "--skip-png" in argv
    if len(args) != 2 or any(a not in ("--skip-png",) for a in argv if a.startswith("--")):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    reference, candidate = Path(args[0]), Path(args[1])
    for root in (reference, candidate):
        if not root.is_dir():
            print(f"compare_results: {root} is not a folder", file=sys.stderr)
            return 2
    a, b = files(reference), files(candidate)
    differences, compared, skipped = [], 0, 0
    for rel in sorted(set(a) | set(b)):
        if Path(rel).name == ".twp.lock":
            continue
        if rel not in a or rel not in b:
            differences.append(f"only in {'the reference' if rel in a else 'the candidate'}: {rel}")
            continue
        if skip_png and rel.endswith(".png"):
            skipped += 1
            continue
        compared += 1
        if comparable(a[rel]) != comparable(b[rel]):
            if Path(rel).name == "results_summary.txt":
                lines = difflib.unified_diff(comparable(a[rel]).splitlines(), comparable(b[rel]).splitlines(),
                                             "reference", "candidate", n=0, lineterm="")
                print(f"compare_results: {rel} is worded differently (shown, not held to identity):")
                for line in list(lines)[2:]:
                    print(f"    {line}")
                continue
            differences.append(f"differs: {rel}")
    for line in differences:
        print(f"compare_results: {line}")
    verdict = "DIFFER" if differences else "the same"
    print(f"compare_results: {reference} and {candidate}: {compared} files compared"
          f"{f', {skipped} PNGs skipped' if skipped else ''}, {len(differences)} differences: {verdict}")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
