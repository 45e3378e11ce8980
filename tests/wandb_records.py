"""Reads an offline W&B run's records (RUN/wandb/offline-run-*/run-*.wandb) for the tests: the file is LevelDB's
log format (32 KiB blocks; each record crc32, length, type, then a protobuf `Record`) after a 7-byte header."""
import glob
import os
import struct


def records(run_dir: str) -> list:
    from wandb.proto import wandb_internal_pb2 as pb
    files = glob.glob(os.path.join(str(run_dir), "wandb", "offline-run-*", "run-*.wandb"))
    assert files, f"no offline W&B run in {run_dir}"
    out = []
    for path in files:
        data = open(path, "rb").read()
        assert data[:4] == b":W&B", path
        pos, block, parts = 7, 32768, b""
        while pos + 7 <= len(data):
            left = block - pos % block
            if left < 7:
                pos += left
                continue
            _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
            if length == 0 and kind == 0:   # the block's zero padding
                pos += left
                continue
            chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
            whole = {1: chunk, 4: parts + chunk}.get(kind)   # FULL, LAST
            parts = chunk if kind == 2 else parts + chunk if kind == 3 else b""
            if whole is not None:
                record = pb.Record()
                record.ParseFromString(whole)
                out.append(record)
    return out


def config_of(run_dir) -> dict:
    import json
    found = {}
    for r in records(run_dir):
        if r.WhichOneof("record_type") in ("run", "config"):
            items = r.run.config.update if r.WhichOneof("record_type") == "run" else r.config.update
            for item in items:
                found[item.key] = json.loads(item.value_json)
    return found


def history_of(run_dir) -> list:
    """Each logged row as {key: value} (values JSON-decoded)."""
    import json
    rows = []
    for r in records(run_dir):
        if r.WhichOneof("record_type") == "history":
            rows.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.history.item})
    return rows
