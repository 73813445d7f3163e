"""``regard audit``: purpose-bound searches, a person's report, and signed anchors that catch a log
rewritten so consistently that the hash chain alone still verifies. Real data folder, real models."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import stat
from pathlib import Path

from click.testing import CliRunner

from regard.adapters.cli.main import cli
from regard.store.embedded.audit import (
    AUDIT_COLUMNS,
    Anchor,
    canonical_json,
    record_hash,
    row_to_record,
    write_anchor,
)

AWS = Path(__file__).resolve().parents[2] / "data" / "aws"
PURPOSE = "ticket INC-7731: shoplifting report, camera 4"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def audit_records(data: Path) -> list:
    with sqlite3.connect(data / "regard.db") as conn:
        return [row_to_record(r) for r in conn.execute(f"SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq")]


def rewrite_consistently(data: Path, seq: int, change: dict) -> None:
    """What someone with write access to the data folder can do: change one record, recompute its hash and
    every later one, and rewrite the local anchor file, so that the chain verifies again."""
    records = audit_records(data)
    conn = sqlite3.connect(data / "regard.db")
    prev = records[0].prev_hash
    for record in records:
        entry = record.entry
        if record.seq == seq:
            entry = dataclasses.replace(entry, details={**entry.details, **change})
        digest = record_hash(record.seq, record.time, entry, prev)
        conn.execute(
            "UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (canonical_json(entry.details), prev, digest, record.seq),
        )
        prev = digest
    conn.commit()
    conn.close()
    write_anchor(data / "audit.anchor", Anchor(records[-1].seq, prev))


def test_purpose_subject_report_and_anchors(tmp_path: Path) -> None:
    data, keys, witness = tmp_path / "data", tmp_path / "keys", tmp_path / "witness"
    keys.mkdir()
    witness.mkdir()
    d = ("--data", str(data))
    probe = tmp_path / "probe.jpg"
    probe.write_bytes((AWS / "obama-240p.jpg").read_bytes())

    # A purpose-bound collection: a search without a purpose is refused, and says why.
    assert run("collections", "create", "cases", "--require-purpose", *d)[0] == 0
    assert json.loads(run("collections", "describe", "cases", *d)[1])["RegardRequirePurpose"] is True
    code, out = run("index", "cases", str(AWS / "obama2.jpg"), str(AWS / "biden.jpg"), "--json", *d)
    assert code == 0 and json.loads(out)["indexed"] == 2, out
    code, out = run("search", "cases", str(probe), *d)
    assert code == 1 and "AccessDeniedException" in out and "requires a stated purpose" in out
    code, out = run("search", "cases", str(probe), "--json", "--purpose", PURPOSE, *d)
    assert code == 0, out
    obama_face = json.loads(out)["FaceMatches"][0]["Face"]["FaceId"]
    code, out = run("search", "cases", str(probe), "--purpose", "bad\x07bell", *d)
    assert code == 2 and "printable" in out
    search = [r for r in audit_records(data) if r.entry.operation == "SearchFacesByImage"][-1]
    assert search.entry.details["purpose"] == PURPOSE and len(search.entry.details["probe_sha256"]) == 64

    # The person's report: the search that found them, with its probe hash and purpose; the erased face too.
    assert run("erase", "--collection", "cases", "--external-id", "obama2.jpg", *d)[0] == 0
    code, out = run("audit", "subject", "--collection", "cases", "--external-id", "obama2.jpg", "--json", *d)
    assert code == 0, out
    report = json.loads(out)
    assert report["FaceIds"] == [obama_face]
    found = [r for r in report["Records"] if r["Role"] == "RETURNED"]
    assert [r["Operation"] for r in found] == ["SearchFacesByImage"]
    assert found[0]["Purpose"] == PURPOSE and found[0]["ProbeSha256"] == search.entry.details["probe_sha256"]
    assert [r["Operation"] for r in report["Records"] if r["Role"] == "CHANGED"] == ["IndexFaces", "Erase"]
    code, out = run("audit", "subject", "--collection", "cases", "--face-id", obama_face, *d)
    assert code == 0 and "1 face(s)" in out and "3 record(s)" in out and "RETURN" in out, out
    assert run("audit", "subject", "--collection", "cases", *d)[0] == 2

    # Keys live outside the data folder, private to their owner.
    key = keys / "anchor.pem"
    code, out = run("audit", "keygen", "--out", str(key))
    assert code == 0, out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and (keys / "anchor.pem.pub").exists()
    assert run("audit", "keygen", "--out", str(key))[0] == 1  # never overwritten
    inside = data / "anchor.pem"
    assert run("audit", "keygen", "--out", str(inside))[0] == 0
    code, out = run("audit", "anchor", "--to", str(witness / "a.jsonl"), "--key", str(inside), *d)
    assert code == 1 and "inside the data folder" in out
    code, out = run("audit", "anchor", "--to", str(data / "a.jsonl"), "--key", str(key), *d)
    assert code == 1 and "inside the data folder" in out
    code, out = run("audit", "anchor", "--to", "http://example.org/anchors", "--key", str(key), *d)
    assert code == 1 and "https" in out

    # Two anchors, then a consistent rewrite of the search record (its purpose made innocuous).
    anchors = witness / "anchors.jsonl"
    assert run("audit", "anchor", "--to", str(anchors), "--key", str(key), *d)[0] == 0
    assert run("search", "cases", str(probe), "--purpose", "second look", *d)[0] == 0
    assert run("audit", "anchor", "--to", str(anchors), "--key", str(key), *d)[0] == 0
    pub = ("--public-key", str(keys / "anchor.pem.pub"))
    code, out = run("audit", "verify", "--anchors", str(anchors), *pub, *d)
    assert code == 0 and "all 2 signed anchors match" in out, out

    rewrite_consistently(data, search.seq, {"purpose": "routine quality check"})
    code, out = run("audit", "verify", *d)
    assert code == 0 and "intact" in out, out  # the chain alone cannot tell
    code, out = run("audit", "verify", "--anchors", str(anchors), *pub, *d)
    assert code == 1 and "REWRITTEN" in out and "anchor on line 1" in out, out
    assert f"rewritten at or before record {json.loads(anchors.read_text().splitlines()[0])['seq']}" in out

    # A forged anchor (the rewritten head, with a signature the forger cannot make) is refused.
    first = json.loads(anchors.read_text().splitlines()[0])
    records = audit_records(data)
    forged = {**first, "hash": records[first["seq"] - 1].hash}
    forged_file = witness / "forged.jsonl"
    forged_file.write_text(json.dumps(forged) + "\n")
    code, out = run("audit", "verify", "--anchors", str(forged_file), *pub, *d)
    assert code == 1 and "REFUSED" in out and "signature does not verify" in out, out
    # ... as is one honestly signed, but with a key the verifier does not trust.
    other = keys / "other.pem"
    assert run("audit", "keygen", "--out", str(other))[0] == 0
    other_anchors = witness / "other.jsonl"
    assert run("audit", "anchor", "--to", str(other_anchors), "--key", str(other), *d)[0] == 0
    code, out = run("audit", "verify", "--anchors", str(other_anchors), *pub, *d)
    assert code == 1 and "REFUSED" in out
    code, out = run("audit", "verify", "--anchors", str(other_anchors), "--key", str(other), *d)
    assert code == 0 and "all 1 signed anchors match" in out, out
