"""The FAISS index over hypothesis renderings and evidence sentences, stored beside the database.

Vectors are unit-norm MiniLM embeddings in an exact inner-product index (``IndexFlatIP`` inside an
``IndexIDMap2``), so scores are cosine similarities. From :func:`~theorycov.corpus.ann.large_at` vectors on
(200,000 by default) the index is an IVF-HNSW-RaBitQ one (:mod:`theorycov.corpus.ann`), trained on a sample and then
filled incrementally like the flat one; a flat index that grows past the size is moved into it once.

Each vector's id is the id of its ``IndexItem`` row: the database says what is indexed, and a lost or stale
index file is rebuilt from it. Updates are incremental (only items flagged ``indexed = False`` are embedded) and
the file is replaced atomically, then the items are flagged: a crash between the two only re-adds those ids (removed first).

``search(text, k)`` returns hypotheses, best first, each with its score, the text that matched, its
rendering and the citations of the papers behind it.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from theorycov.corpus import ann
from theorycov.db import crud, get_engine, init_db, session_scope
from theorycov.db import models as m
from theorycov.corpus.store import citation_of
from theorycov.corpus.types import Citation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchHit:
    """One hypothesis that matched a query."""

    hypothesis_id: int
    score: float  # cosine similarity of the best-matching indexed text
    rendering: str  # the hypothesis in words
    matched: str  # the indexed text that matched (the rendering or an evidence sentence)
    kind: str  # rendering | evidence
    citations: tuple[Citation, ...] = field(default_factory=tuple)


def index_path_for(db: str | Engine, index_dir: str | Path | None = None) -> Path | None:
    """Where the index of a database lives: ``<file>.faiss`` beside a SQLite file; for a server database
    ``<index_dir or $THEORYCOV_INDEX_DIR or .theorycov-index>/<hash of the URL>.faiss``; None in memory."""
    engine = get_engine(db)
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None if index_dir is None else Path(index_dir) / "memory.faiss"
        return Path(url.database).with_suffix(Path(url.database).suffix + ".faiss")
    folder = Path(index_dir or os.environ.get("THEORYCOV_INDEX_DIR", ".theorycov-index"))
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return folder / f"{digest}.faiss"


_MEMORY: dict[int, object] = {}  # in-memory databases keep their index here (keyed by engine id)


class HypothesisIndex:
    """The FAISS index of one database."""

    def __init__(self, db: str | Engine | None = None, *, index_path: str | Path | None = None) -> None:
        self.engine = get_engine(db)
        self.path = Path(index_path) if index_path is not None else index_path_for(self.engine)
        self._index = None

    # ------------------------------------------------------------ storage
    def _new(self, n_expected: int):  # noqa: ANN202 (faiss types)
        """An empty index for a collection of about ``n_expected`` vectors: flat, or IVF-HNSW-RaBitQ (untrained)."""
        from theorycov.corpus.embed import DIM

        if n_expected >= max(ann.large_at(), ann.MIN_IVF):
            return ann.ivf_index(DIM, n_expected)
        return ann.flat_index(DIM)

    def _load(self, session: Session):  # noqa: ANN202
        """The index on disk if it agrees with the database, else a rebuilt one."""
        import faiss

        if self._index is not None:
            return self._index
        n_indexed = int(session.scalar(select(func.count()).select_from(m.IndexItem).where(m.IndexItem.indexed.is_(True))) or 0)
        index = None
        if self.path is None:
            index = _MEMORY.get(id(self.engine))
        elif self.path.exists():
            try:
                index = faiss.read_index(str(self.path))
                ann.set_search_params(index)
            except RuntimeError as exc:  # a truncated or foreign file: rebuild rather than fail
                log.warning("index file %s unreadable (%s); rebuilding it from the database", self.path, exc)
        if index is None or index.ntotal != n_indexed:
            if n_indexed:
                log.info("rebuilding the FAISS index from %d database items", n_indexed)
            items = crud.all_index_items(session=session)
            crud.mark_indexed([i.id for i in items], session=session, indexed=False)
            session.flush()
            index = self._new(len(items))
        self._index = index
        return index

    def _save(self, index) -> None:  # noqa: ANN001
        import faiss

        if self.path is None:
            _MEMORY[id(self.engine)] = index
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        faiss.write_index(index, str(tmp))
        os.replace(tmp, self.path)  # atomic: a reader never sees half a file

    # ------------------------------------------------------------ updates
    def sync(self, *, batch: int = 512) -> int:
        """Embed and add every pending item; returns how many were added.

        An IVF index that is not trained yet (a rebuild above the size, or a flat index just moved) buffers the
        first embeddings until it has its training sample (:func:`ann.train_size`), trains, then adds them."""
        import numpy as np

        from theorycov.corpus.embed import embed

        added = 0
        with session_scope(self.engine) as session:
            index = self._load(session)
            pending = crud.pending_index_items(session=session)
            if not pending:
                return 0
            index.remove_ids(np.array([it.id for it in pending], dtype=np.int64))  # ids a crashed sync already wrote
            buffered: list[tuple[np.ndarray, np.ndarray]] = []
            if ann.is_flat(index) and index.ntotal + len(pending) >= max(ann.large_at(), ann.MIN_IVF):
                index, buffered = self._grown(index, index.ntotal + len(pending))
            for i in range(0, len(pending), batch):
                chunk = pending[i : i + batch]
                ids = np.array([it.id for it in chunk], dtype=np.int64)
                vectors = embed([it.text for it in chunk])  # (b, 384)
                if index.is_trained:
                    index.add_with_ids(vectors, ids)
                else:
                    buffered.append((ids, vectors))
                    if sum(len(b[0]) for b in buffered) >= ann.train_size(index) or i + batch >= len(pending):
                        _train_and_fill(index, buffered)
                        buffered = []
                added += len(chunk)
            if buffered:  # a moved flat index that needs no new vectors to train
                _train_and_fill(index, buffered)
            self._index = index
            self._save(index)
            crud.mark_indexed([it.id for it in pending], session=session)
        return added

    def _grown(self, flat, n_expected: int):  # noqa: ANN001, ANN202 (faiss types)
        """A flat index past :func:`ann.large_at`: an untrained IVF index and the flat one's (ids, vectors)."""
        from theorycov.corpus.embed import DIM

        log.info("the index reaches %d vectors: moving it from exact to IVF-HNSW-RaBitQ search", n_expected)
        ids, vectors = ann.vectors_of(flat)
        return ann.ivf_index(DIM, n_expected), ([(ids, vectors)] if len(ids) else [])

    def __len__(self) -> int:
        with session_scope(self.engine) as session:
            return int(self._load(session).ntotal)

    # ------------------------------------------------------------ queries
    def search(self, text: str, k: int = 5) -> list[SearchHit]:
        """The k hypotheses whose rendering or evidence is nearest in meaning to ``text``."""
        from theorycov.corpus.embed import embed

        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        self.sync()  # pending items (new papers, or a rebuild) become searchable first
        with session_scope(self.engine) as session:
            index = self._load(session)
            if index.ntotal == 0:
                return []
            query = embed([text])  # (1, 384)
            scores, ids = _search_one_thread(index, query, min(index.ntotal, k * 8))  # (1, k') each
            best: dict[int, tuple[float, m.IndexItem]] = {}
            items = {it.id: it for it in session.scalars(select(m.IndexItem).where(m.IndexItem.id.in_([int(i) for i in ids[0] if i >= 0])))}
            for score, iid in zip(scores[0], ids[0]):
                item = items.get(int(iid))
                if item is not None and (item.hypothesis_id not in best or score > best[item.hypothesis_id][0]):
                    best[item.hypothesis_id] = (float(score), item)
            hits = []
            for hid, (score, item) in sorted(best.items(), key=lambda kv: -kv[1][0])[:k]:
                hyp = session.get(m.Hypothesis, hid)
                papers = crud.hypothesis_papers(hid, session=session)
                hits.append(SearchHit(hid, score, hyp.rendering if hyp else "", item.text, item.kind,
                                      tuple(citation_of(p) for p in papers)))  # fmt: skip
            return hits


def _train_and_fill(index, buffered) -> None:  # noqa: ANN001 (faiss types)
    """Train an IVF index on a sample of the buffered (ids, vectors) and add them all."""
    import numpy as np

    ids = np.concatenate([b[0] for b in buffered])
    vectors = np.concatenate([b[1] for b in buffered])
    if not index.is_trained:
        index.train(ann.train_sample(vectors, ann.train_size(index)))
    index.add_with_ids(vectors, ids)


def _search_one_thread(index, query, k: int):  # noqa: ANN001, ANN202 (faiss types)
    """One query needs no OpenMP team; on a busy machine the team's spinning costs 3-4x (measured)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(query, k)
    finally:
        faiss.omp_set_num_threads(before)


def search(text: str, k: int = 5, *, db_url: str | Engine | None = None, index_path: str | Path | None = None) -> list[SearchHit]:
    """Search a database's hypotheses by meaning (brings the index up to date first)."""
    init_db(db_url)
    return HypothesisIndex(db_url, index_path=index_path).search(text, k)


__all__ = ["HypothesisIndex", "SearchHit", "index_path_for", "search"]
