"""Hardening (issue 15): the database's identity, run folders owned by their database, killed ingest runs,
paper identity by normalized content.

- database_identity: one row with a random id, written here once; run folders record it (owner.json).
- runs.run_dir, runs.run_key: the folder chosen when the run started and the random key its owner.json
  repeats, so that a run folder written by another database (a copy of this one, or the original) is
  recognised instead of loaded.
- ingest_runs.pid, ingest_runs.host: the process of a 'running' run; the next run marks it killed when
  that process is gone.
- papers.content_key: SHA-256 of the paper's normalized text.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:00:00
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    identity = op.create_table('database_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('database_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(identity, [{'id': 1, 'database_id': uuid.uuid4().hex, 'created_at': datetime.now(timezone.utc)}])
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('run_dir', sa.Text(), nullable=True))
        batch.add_column(sa.Column('run_key', sa.String(length=32), nullable=True))
    with op.batch_alter_table('ingest_runs') as batch:
        batch.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('host', sa.String(length=255), nullable=True))
    with op.batch_alter_table('papers') as batch:
        batch.add_column(sa.Column('content_key', sa.String(length=64), nullable=True))
        batch.create_index(batch.f('ix_papers_content_key'), ['content_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('papers') as batch:
        batch.drop_index(batch.f('ix_papers_content_key'))
        batch.drop_column('content_key')
    with op.batch_alter_table('ingest_runs') as batch:
        batch.drop_column('host')
        batch.drop_column('pid')
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('run_key')
        batch.drop_column('run_dir')
    op.drop_table('database_identity')
