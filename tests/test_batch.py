"""Batch runs: worker pool, per-file time limit, crashes, streaming rows and --resume."""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from her2extract import batch, pipeline
from her2extract.batch import run_batch
from her2extract.errors import ResumeError
from her2extract.model import CSV_COLUMNS

REPORT = "FINAL DIAGNOSIS:\nBreast, left, core biopsy: invasive ductal carcinoma.\nER: {er}%, strong.\nHER2 (IHC): {score}\n"


def _reports(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"r{n:04d}.txt"
        path.write_text(REPORT.format(er=10 + n % 90, score=f"{n % 4}+" if n % 4 else "0"), encoding="utf-8")
        paths.append(path)
    return paths


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        return list(reader)


def _as_set(rows) -> set[tuple]:
    return {tuple(sorted(r.items())) for r in rows}


def test_one_and_two_workers_give_the_same_rows(tmp_path):
    files = _reports(tmp_path / "in", 24) + [tmp_path / "in" / "empty.txt"]
    files[-1].write_bytes(b"")
    one = run_batch(files, tmp_path / "one.csv", workers=1)
    two = run_batch(files, tmp_path / "two.csv", workers=2, jsonl=tmp_path / "two.jsonl")
    assert one.files == two.files == 25 and one.ok == two.ok == 24
    assert len(two.errors) == 1 and "empty" in two.errors[0][1]
    assert _as_set(_rows(tmp_path / "one.csv")) == _as_set(_rows(tmp_path / "two.csv"))
    assert len((tmp_path / "two.jsonl").read_text().splitlines()) == 25


def _slow_or_dying(data, source, **kwargs):
    """Stands in for the pipeline inside forked workers: one file hangs, one kills its worker."""
    name = Path(source).name
    if name.startswith("hang"):
        time.sleep(120)
    if name.startswith("crash"):
        os._exit(3)
    return _REAL(data, source, **kwargs)


_REAL = pipeline.safe_read_and_extract_bytes


@pytest.mark.skipif(sys.platform != "linux", reason="relies on fork to carry the stand-in into workers")
@pytest.mark.parametrize("workers", [1, 2])
def test_a_hanging_file_and_a_dying_worker_cost_one_row_each(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(pipeline, "safe_read_and_extract_bytes", _slow_or_dying)
    files = _reports(tmp_path / "in", 6)
    for name in ("hang.txt", "crash.txt"):
        shutil.copy(files[0], tmp_path / "in" / name)
    files += [tmp_path / "in" / "hang.txt", tmp_path / "in" / "crash.txt"]
    started = time.monotonic()
    # 8 s: a worker loads spaCy (a second or two on a slow machine) for its first report that needs it
    summary = run_batch(files, tmp_path / "out.csv", workers=workers, timeout=8)
    assert time.monotonic() - started < 60
    rows = {Path(r["source"]).name: r for r in _rows(tmp_path / "out.csv")}
    assert len(rows) == 8 and summary.ok == 6
    assert rows["hang.txt"]["status"] == "error" and "timed out after 8 s" in rows["hang.txt"]["error"]
    assert rows["crash.txt"]["status"] == "error" and "worker process died" in rows["crash.txt"]["error"]


@pytest.mark.skipif(sys.platform != "linux", reason="relies on fork to carry the stand-in into workers")
def test_on_a_dask_worker_a_hanging_or_crashing_file_costs_its_row_not_the_worker(tmp_path, monkeypatch):
    """What a Dask task runs, called here directly: the file is read in a child process."""
    monkeypatch.setattr(pipeline, "safe_read_and_extract_bytes", _slow_or_dying)
    good = _reports(tmp_path / "in", 1)[0]
    for name in ("hang.txt", "crash.txt"):
        shutil.copy(good, tmp_path / "in" / name)
    setup = batch.WorkerSetup()
    try:
        started = time.monotonic()
        hang = batch.process_file_guarded(str(tmp_path / "in" / "hang.txt"), setup, timeout=2)
        assert time.monotonic() - started < 30
        crash = batch.process_file_guarded(str(tmp_path / "in" / "crash.txt"), setup, timeout=2)
        after = batch.process_file_guarded(str(good), setup, timeout=30)  # the pool goes on (loading spaCy)
    finally:
        batch.stop_guards()
    assert hang.row["status"] == "error" and "timed out after 2 s" in hang.row["error"]
    assert crash.row["status"] == "error" and "worker process died" in crash.row["error"]
    assert after.row["status"] == "ok" and after.row == batch.process_file(str(good)).row


def test_resume_after_a_torn_write_redoes_only_what_is_missing(tmp_path):
    files = _reports(tmp_path / "in", 10)
    out = tmp_path / "out.csv"
    run_batch(files, out, workers=1)
    full = _rows(out)
    # a run killed mid-line: the last row half written, and one row written but not recorded as done
    text = out.read_text()
    out.write_text(text[: len(text) - 25])
    progress = Path(f"{out}.progress")
    lines = progress.read_text().splitlines(keepends=True)
    progress.write_text("".join(lines[:7]))
    # a file changed since: its row is redone too
    files[0].write_text(REPORT.format(er=77, score="2+"), encoding="utf-8")
    summary = run_batch(files, out, workers=1, resume=True)
    assert summary.skipped == 6 and summary.ok == 4
    rows = _rows(out)
    assert len(rows) == 10 and len({r["source"] for r in rows}) == 10
    changed = next(r for r in rows if r["source"] == str(files[0]))
    assert changed["er_percent"] == "77" and changed["her2_ihc_score"] == "2+"
    assert _as_set(r for r in rows if r["source"] != str(files[0])) == _as_set(
        r for r in full if r["source"] != str(files[0]))


def test_killing_a_batch_at_random_and_resuming_gives_the_uninterrupted_rows(tmp_path):
    folder = tmp_path / "in"
    _reports(folder, 300)
    command = [sys.executable, "-m", "her2extract", "batch", str(folder), "-q", "--workers", "2"]
    subprocess.run(command + ["-o", str(tmp_path / "whole.csv")], check=True, timeout=300)
    out = tmp_path / "killed.csv"
    progress = Path(f"{out}.progress")
    victim = subprocess.Popen(command + ["-o", str(out)], start_new_session=True)
    stop_after = random.Random().randint(5, 250)  # rows done before the kill: at random
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:
        if progress.exists() and len(progress.read_text().splitlines()) >= stop_after:
            break
        time.sleep(0.005)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert len(progress.read_text().splitlines()) < 300, "the run finished before it was killed"
    subprocess.run(command + ["-o", str(out), "--resume"], check=True, timeout=300)
    assert _as_set(_rows(out)) == _as_set(_rows(tmp_path / "whole.csv"))
    assert len(_rows(out)) == 300


def test_dask_local_cluster_gives_the_process_pool_rows(tmp_path):
    files = _reports(tmp_path / "in", 30) + [tmp_path / "in" / "broken.pdf"]
    files[-1].write_bytes(b"%PDF-1.7 not really")
    pool = run_batch(files, tmp_path / "pool.csv", workers=2, jsonl=tmp_path / "pool.jsonl")
    dask = run_batch(files, tmp_path / "dask.csv", workers=2, scheduler="local", jsonl=tmp_path / "dask.jsonl")
    assert dask.ok == pool.ok == 30 and len(dask.errors) == len(pool.errors) == 1
    assert sorted(_as_set(_rows(tmp_path / "dask.csv"))) == sorted(_as_set(_rows(tmp_path / "pool.csv")))
    assert sorted((tmp_path / "dask.jsonl").read_text().splitlines()) == sorted(
        (tmp_path / "pool.jsonl").read_text().splitlines())


@pytest.mark.parametrize("fmt", ["naaccr", "fhir"])
def test_other_formats_stream_and_resume(tmp_path, fmt):
    files = _reports(tmp_path / "in", 8)
    whole, out = tmp_path / f"whole.{fmt}", tmp_path / f"out.{fmt}"
    run_batch(files, whole, workers=1, fmt=fmt)
    run_batch(files, out, workers=1, fmt=fmt)
    text = out.read_text()
    out.write_text(text[: len(text) - 30])  # a torn last line
    progress = Path(f"{out}.progress")
    progress.write_text("".join(progress.read_text().splitlines(keepends=True)[:5]))
    summary = run_batch(files, out, workers=1, fmt=fmt, resume=True)
    assert summary.skipped == 5 and summary.ok == 3
    assert sorted(out.read_text().splitlines()) == sorted(whole.read_text().splitlines())
    if fmt == "naaccr":
        xml = out.with_suffix(".xml").read_text()
        assert xml.count("<Tumor>") == 8 and xml.count("</Tumor>") == 8  # every report, once
        assert 'naaccrId="her2OverallSummary"' in xml
    else:
        assert len(out.read_text().splitlines()) == 8


def test_per_result_rows_keep_every_specimen_and_survive_resume(tmp_path, samples):
    report = samples / "two-specimens-core-and-excision.txt"
    other = _reports(tmp_path / "in", 3)
    out, results = tmp_path / "out.csv", tmp_path / "results.csv"
    run_batch([report, *other], out, workers=1, per_result=results)
    with open(results, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    mine = [r for r in rows if r["source"] == str(report)]
    er = {(r["specimen"], r["value"]) for r in mine if r["field"] == "er_percent"}
    assert len({s for s, _ in er}) == 2, er  # both specimens' ER percents are listed
    reported = [r for r in mine if r["reported"] == "yes"]
    assert {r["field"] for r in reported} >= {"er_percent", "her2_ihc_score"}
    assert len({(r["field"], r["page_start"]) for r in mine}) == len(mine)  # no duplicate rows
    full = sorted(results.read_text().splitlines())
    progress = Path(f"{out}.progress")
    progress.write_text("".join(progress.read_text().splitlines(keepends=True)[:2]))
    run_batch([report, *other], out, workers=1, per_result=results, resume=True)
    assert sorted(results.read_text().splitlines()) == full


def test_dask_local_workers_may_start_children_and_leave_the_configuration_as_it_was():
    """--dask local starts non-daemonic workers (so each reads its files in a child process
    with a time limit), without leaving that setting in the caller's Dask configuration."""
    import multiprocessing

    import dask
    from distributed import Client

    before = dask.config.get("distributed.worker.daemon")
    cluster = batch.local_cluster(1)
    try:
        with Client(cluster) as client:
            daemonic = client.run(lambda: multiprocessing.current_process().daemon)
    finally:
        cluster.close()
    assert list(daemonic.values()) == [False]
    assert dask.config.get("distributed.worker.daemon") == before


def test_resume_redoes_files_missing_from_an_output_added_or_torn_since(tmp_path):
    """--jsonl or --per-result added on resuming: the files the first run did not write there
    are redone (not left out of the new output); a JSONL line lost at the kill is redone too."""
    files = _reports(tmp_path / "in", 6)
    out, jsonl, results = tmp_path / "out.csv", tmp_path / "out.jsonl", tmp_path / "results.csv"
    whole = tmp_path / "whole.csv"
    run_batch(files, whole, workers=1, jsonl=tmp_path / "whole.jsonl", per_result=tmp_path / "whole_results.csv")
    run_batch(files, out, workers=1)
    summary = run_batch(files, out, workers=1, jsonl=jsonl, per_result=results, resume=True)
    assert summary.skipped == 0 and summary.ok == 6
    assert _as_set(_rows(out)) == _as_set(_rows(whole)) and len(_rows(out)) == 6
    assert sorted(jsonl.read_text().splitlines()) == sorted((tmp_path / "whole.jsonl").read_text().splitlines())
    assert sorted(results.read_text().splitlines()) == sorted((tmp_path / "whole_results.csv").read_text().splitlines())
    # now every output holds every file: a resume asking for the same outputs redoes nothing
    again = run_batch(files, out, workers=1, jsonl=jsonl, per_result=results, resume=True)
    assert again.skipped == 6 and again.ok == 0
    # a run killed after a row's JSONL line was torn: that file is redone, its CSV row not doubled
    lines = jsonl.read_text().splitlines(keepends=True)
    jsonl.write_text("".join(lines[:-1]) + lines[-1][:20])
    torn = run_batch(files, out, workers=1, jsonl=jsonl, per_result=results, resume=True)
    assert torn.skipped == 5 and torn.ok == 1
    assert _as_set(_rows(out)) == _as_set(_rows(whole)) and len(_rows(out)) == 6
    assert sorted(jsonl.read_text().splitlines()) == sorted((tmp_path / "whole.jsonl").read_text().splitlines())
    assert sorted(results.read_text().splitlines()) == sorted((tmp_path / "whole_results.csv").read_text().splitlines())


@pytest.mark.parametrize(("first", "then"), [("csv", "naaccr"), ("naaccr", "csv"), ("csv", "fhir"), ("fhir", "csv")])
def test_resume_in_another_format_stops_and_keeps_the_earlier_rows(tmp_path, first, then):
    files = _reports(tmp_path / "in", 3)
    out = tmp_path / "out.txt"
    run_batch(files, out, workers=1, fmt=first)
    before = out.read_bytes()
    with pytest.raises(ResumeError, match="another format"):
        run_batch(files, out, workers=1, fmt=then, resume=True)
    assert out.read_bytes() == before


def test_resume_stops_when_an_extra_output_is_not_its_kind_or_the_progress_file_is_gone(tmp_path):
    files = _reports(tmp_path / "in", 3)
    out, jsonl = tmp_path / "out.csv", tmp_path / "out.jsonl"
    run_batch(files, out, workers=1)
    shutil.copy(out, jsonl)  # --jsonl pointed at a CSV by mistake
    with pytest.raises(ResumeError, match="another format"):
        run_batch(files, out, workers=1, jsonl=jsonl, resume=True)
    assert jsonl.read_bytes() == out.read_bytes()
    before = out.read_bytes()
    Path(f"{out}.progress").unlink()
    with pytest.raises(ResumeError, match="progress is missing"):
        run_batch(files, out, workers=1, resume=True)
    assert out.read_bytes() == before
    # --resume on a first run (no output yet) just runs
    fresh = run_batch(files, tmp_path / "new.csv", workers=1, resume=True)
    assert fresh.ok == 3 and len(_rows(tmp_path / "new.csv")) == 3


def test_ctrl_c_stops_with_a_hint_and_complete_rows_that_resume_finishes(tmp_path):
    folder = tmp_path / "in"
    _reports(folder, 300)
    out = tmp_path / "out.csv"
    progress = Path(f"{out}.progress")
    command = [sys.executable, "-m", "her2extract", "batch", str(folder), "-o", str(out), "--workers", "2"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        if progress.exists() and len(progress.read_text().splitlines()) >= 5:
            break
        time.sleep(0.005)
    os.killpg(run.pid, signal.SIGINT)  # as a terminal's Ctrl+C: the whole process group
    _, err = run.communicate(timeout=60)
    done = len(progress.read_text().splitlines())
    assert done < 300, "the run finished before Ctrl+C"
    assert run.returncode == 130
    assert "interrupted" in err.decode() and "--resume" in err.decode() and "Traceback" not in err.decode()
    # every row recorded as done is there, complete; Ctrl+C between a row and its progress line
    # leaves that one row unrecorded, and --resume drops and redoes it
    assert done <= len(_rows(out)) <= done + 1
    subprocess.run(command + ["--resume", "-q"], check=True, timeout=300)
    rows = _rows(out)
    assert len(rows) == 300 and len({r["source"] for r in rows}) == 300


def test_a_kill_while_resume_rewrites_the_outputs_leaves_each_whole(tmp_path, monkeypatch):
    """--resume rewrites the outputs it keeps rows of; stopped halfway (here: as the new CSV is
    put in place), the old CSV is still there whole, and the next --resume finishes the run."""
    files = _reports(tmp_path / "in", 6)
    out = tmp_path / "out.csv"
    run_batch(files, out, workers=1)
    whole = _rows(out)
    progress = Path(f"{out}.progress")
    progress.write_text("".join(progress.read_text().splitlines(keepends=True)[:3]))
    before = out.read_bytes()

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        run_batch(files, out, workers=1, resume=True)
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.csv", "out.csv.progress"]  # nothing left over
    summary = run_batch(files, out, workers=1, resume=True)
    assert summary.skipped == 3 and summary.ok == 3
    assert _as_set(_rows(out)) == _as_set(whole)
