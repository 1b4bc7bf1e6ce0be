"""The file collector: one poll loop per configured input.

Each poll drains every followed file in batches; a batch's offsets are checkpointed only after the
sink acknowledged it (in Kafka, or fsync'd in the spool while Kafka is down), so a restart resumes
exactly after the last acknowledged record: no loss, no duplicate. Rotation by rename: the old file
(same inode) is read to its end and a short grace period, then closed, while the new file at the
path is followed from its start. copytruncate: what was not read before the truncate is read from
the copy next to the file (tail.py), then the file is read from 0; lines written between the end
of the copy and the truncate are lost, that is the method's own race (counted as `file_truncated`).
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import json
import logging
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

from canhgac.collectors.file.tail import Joiner, Record, TailedFile
from canhgac.collectors.registry import COLLECTORS, SinkFactory
from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.core.config import FileInputConfig, FileTailConfig, Settings, SourceConfig
from canhgac.core.envelope import Peer, RawEnvelope, utc_now_iso
from canhgac.core.errors import CanhgacError, ConfigError
from canhgac.core.metrics import Metrics
from canhgac.core.source_registry import SourceRegistry

log = logging.getLogger(__name__)
COLLECTOR = "file"
ROTATED_GRACE_SECS = 5.0  # a writer may append to a renamed file until it reopens its log


class Checkpoints:
    """`{"<dev>:<ino>": {"offset", "fp", "fp_len", "path"}}` in one JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}

    def load(self) -> None:
        if self.path.exists():
            self.entries = json.loads(self.path.read_text(encoding="utf-8"))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.entries, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


class FileInput:
    def __init__(
        self,
        cfg: FileInputConfig,
        source: SourceConfig | None,
        parent: FileTailConfig,
        state_dir: Path,
        sink: SpoolingSink,
        metrics: Metrics,
        *,
        first_run_at_end: bool,
    ) -> None:
        self.cfg = cfg
        # The declaration as the collector last read it (settings file or API); None: not declared
        # (yet, or any more). Undeclared or disabled, the input pauses: nothing is read.
        self.source = source
        self.paused = False
        self.parent = parent
        self.sink = sink
        self.metrics = metrics
        self.pattern = re.compile(cfg.multiline_start_pattern.encode()) if cfg.multiline_start_pattern else None
        digest = hashlib.sha1("\n".join(cfg.paths).encode()).hexdigest()[:8]
        self.checkpoints = Checkpoints(state_dir / f"{cfg.source_id}-{digest}.json")
        self.files: dict[str, TailedFile] = {}
        self.first_run_at_end = first_run_at_end

    def _open(self, path: str) -> TailedFile | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = f"{st.st_dev}:{st.st_ino}"
        if key in self.files:
            return None
        saved = self.checkpoints.entries.get(key)
        joiner = Joiner(self.pattern, self.cfg.multiline_max_lines)
        try:
            tailed = TailedFile(
                path,
                0,
                joiner=joiner,
                max_message_bytes=self.cfg.max_message_bytes,
                multiline_timeout_secs=self.cfg.multiline_timeout_secs,
            )
        except OSError as exc:
            log.warning("cannot open %s: %s", path, exc)
            return None
        offset = 0
        if saved and tailed.matches(saved["fp"], saved["fp_len"]):
            offset = int(saved["offset"])
        elif self.first_run_at_end:
            offset = os.fstat(tailed.fh.fileno()).st_size
        tailed.fh.seek(offset)
        tailed.committed = tailed.read_offset = offset
        return tailed

    async def poll(self) -> None:
        seen: set[str] = set()
        for pattern in self.cfg.paths:
            for path in sorted(glob.glob(pattern)):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                key = f"{st.st_dev}:{st.st_ino}"
                seen.add(key)
                if key not in self.files and stat.S_ISREG(st.st_mode):
                    tailed = self._open(path)
                    if tailed is not None:
                        self.files[tailed.key] = tailed
        self.first_run_at_end = False
        now = time.monotonic()
        for key, tailed in list(self.files.items()):
            if key in seen:
                tailed.gone_since = None
            elif tailed.gone_since is None:
                tailed.gone_since = now
            closing = tailed.gone_since is not None and now - tailed.gone_since > ROTATED_GRACE_SECS
            await self._drain(tailed, closing=closing)
            if closing:
                tailed.close()
                del self.files[key]
                self.checkpoints.entries.pop(key, None)
                self.checkpoints.save()

    async def _drain(self, tailed: TailedFile, *, closing: bool) -> None:
        while True:
            before = tailed.truncations
            records = tailed.read(self.parent.max_batch_records, at_end_of_life=closing)
            if tailed.truncations != before:
                self.metrics.errors.labels(COLLECTOR, "file_truncated").inc()
                if tailed.recovered_from:
                    log.info("%s was truncated; its unread end was read from %s", tailed.path, tailed.recovered_from)
                else:
                    log.info("%s was truncated (no copy found next to it); reading it from the start", tailed.path)
            if not records:
                return
            if not await self._deliver(tailed, records):
                return
            if len(records) < self.parent.max_batch_records:
                return

    async def _deliver(self, tailed: TailedFile, records: list[Record]) -> bool:
        assert self.source is not None, "a paused input delivers nothing"
        received_at = utc_now_iso()
        fmt = self.cfg.format or self.source.format
        envelopes = [
            RawEnvelope(
                source_id=self.source.id,
                agency=self.source.agency,
                collector=COLLECTOR,
                format=fmt,
                message=r.text,
                peer=Peer(),
                received_at=received_at,
                framing_error=r.error,
            )
            for r in records
        ]
        self.metrics.received.labels(COLLECTOR).inc(len(envelopes))
        try:
            await (await self.sink.submit(envelopes))
        except CanhgacError as exc:
            log.warning("file records from %s not acknowledged (%s); will re-read them", tailed.path, exc)
            tailed.rewind()
            return False
        tailed.committed = records[-1].end
        self.checkpoints.entries[tailed.key] = {
            "offset": tailed.committed,
            "fp": tailed.fp,
            "fp_len": tailed.fp_len,
            "path": tailed.path,
        }
        self.checkpoints.save()
        return True


@COLLECTORS.register("file")
class FileCollector:
    name = COLLECTOR

    def __init__(
        self,
        inputs: list[FileInput],
        cfg: FileTailConfig,
        sink: SpoolingSink,
        sources: SourceRegistry | None = None,
    ) -> None:
        self.inputs = inputs
        self.cfg = cfg
        self.sink = sink
        self.sources = sources
        self.port: int | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @staticmethod
    def enabled(settings: Settings) -> bool:
        return settings.collectors.file.enabled

    @staticmethod
    def validate(settings: Settings) -> None:
        # An input's source may be declared in the settings file or through the API (read once
        # running): an input whose source is declared nowhere waits, logged, instead of failing.
        for i, item in enumerate(settings.collectors.file.inputs):
            where = f"collectors.file.inputs[{i}]"
            if item.multiline_start_pattern:
                try:
                    re.compile(item.multiline_start_pattern.encode())
                except re.error as exc:
                    raise ConfigError(f"multiline_start_pattern: {exc}", where=where) from exc

    @classmethod
    def build(cls, settings: Settings, sink_factory: SinkFactory, metrics: Metrics) -> FileCollector:
        cfg = settings.collectors.file
        registry = SourceRegistry(
            settings.sources,
            settings.collectors,
            settings.opensearch,
            component="collectors",
            refresh_secs=settings.sources_refresh_secs,
        )
        state_dir = Path(settings.data_dir) / "file"
        sink = sink_factory(COLLECTOR)
        inputs = []
        for item in cfg.inputs:
            checkpoint_dir_exists = state_dir.exists()
            inputs.append(
                FileInput(
                    item,
                    registry.lookup(item.source_id, COLLECTOR),
                    cfg,
                    state_dir,
                    sink,
                    metrics,
                    first_run_at_end=item.start_at == "end" and not checkpoint_dir_exists,
                )
            )
        return cls(inputs, cfg, sink, registry)

    async def start(self) -> None:
        if self.sources is not None:
            await self.sources.start()
        await self.sink.start()
        for item in self.inputs:
            item.checkpoints.load()
            self._tasks.append(asyncio.create_task(self._run(item), name=f"file-{item.cfg.source_id}"))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for item in self.inputs:
            for tailed in item.files.values():
                tailed.close()
        await self.sink.stop()
        if self.sources is not None:
            await self.sources.close()

    def _follow_declaration(self, item: FileInput) -> None:
        """Use the source's declaration as it is now; pause while it is undeclared or disabled."""
        if self.sources is not None:
            item.source = self.sources.lookup(item.cfg.source_id, COLLECTOR)
        source = item.source
        paused = source is None or not source.enabled
        if paused != item.paused:
            why = "not declared" if source is None else "disabled"
            if paused:
                log.warning("file input %s paused: its source is %s", item.cfg.source_id, why)
            else:
                log.info("file input %s resumed", item.cfg.source_id)
        item.paused = paused

    async def _run(self, item: FileInput) -> None:
        while not self._stop.is_set():
            self._follow_declaration(item)
            try:
                if not item.paused:
                    await item.poll()
            except OSError as exc:
                log.warning("file input %s: %s", item.cfg.source_id, exc)
            try:
                await asyncio.wait_for(self._stop.wait(), self.cfg.poll_interval_secs)
            except TimeoutError:
                pass
