"""Add job_batches (each finished batch of a job, counted once) and heartbeats on jobs and ingest runs.

A pre-labeling job's progress counts the items of its finished batches, whoever labeled them, each batch
once (so two jobs over the same items both finish, and a redelivered batch is not counted twice). A job's
``heartbeat_at`` moves whenever its work advances; a running job whose heartbeat is old has nobody working
on it and is dispatched again. An ingest run's ``heartbeat_at`` tells a live run (not to be resumed by a
second process) from an interrupted one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_batches',
    sa.Column('id', ID, nullable=False),
    sa.Column('job_id', ID, nullable=False),
    sa.Column('first_item_id', sa.BigInteger(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_batches_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_batches')),
    sa.UniqueConstraint('job_id', 'first_item_id', name=op.f('uq_job_batches_job_id_first_item_id'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('ingest_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ingest_runs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
    op.drop_table('job_batches')
