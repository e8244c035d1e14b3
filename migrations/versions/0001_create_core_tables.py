"""Create the core tables: projects, items, predictions, annotations, adapters, training runs,
agreement reports, ingest runs and ingest errors.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa

# BIGINT keys on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('id', ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('taxonomy', sa.String(length=100), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('active_adapter_id', ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.create_table('adapters',
    sa.Column('id', ID, nullable=False),
    sa.Column('version', sa.String(length=200), nullable=False),
    sa.Column('project_id', ID, nullable=True),
    sa.Column('base_model', sa.String(length=500), nullable=False),
    sa.Column('base_model_hash', sa.String(length=64), nullable=True),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('training_run_id', ID, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_adapters_project_id_projects'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adapters')),
    sa.UniqueConstraint('version', name=op.f('uq_adapters_version'))
    )
    with op.batch_alter_table('adapters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adapters_project_id'), ['project_id'], unique=False)

    op.create_table('agreement_reports',
    sa.Column('id', ID, nullable=False),
    sa.Column('project_id', ID, nullable=False),
    sa.Column('field', sa.String(length=100), nullable=False),
    sa.Column('coders', sa.String(length=50), nullable=False),
    sa.Column('metric', sa.String(length=50), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('ci_low', sa.Float(), nullable=True),
    sa.Column('ci_high', sa.Float(), nullable=True),
    sa.Column('n_items', sa.Integer(), nullable=False),
    sa.Column('n_coders', sa.Integer(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_agreement_reports_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreement_reports'))
    )
    with op.batch_alter_table('agreement_reports', schema=None) as batch_op:
        batch_op.create_index('ix_agreement_reports_project_id_field', ['project_id', 'field'], unique=False)

    op.create_table('ingest_runs',
    sa.Column('id', ID, nullable=False),
    sa.Column('project_id', ID, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=200), nullable=True),
    sa.Column('format', sa.String(length=50), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('rows_done', sa.BigInteger(), nullable=False),
    sa.Column('rows_inserted', sa.BigInteger(), nullable=False),
    sa.Column('rows_duplicate', sa.BigInteger(), nullable=False),
    sa.Column('rows_rejected', sa.BigInteger(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_ingest_runs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_runs'))
    )
    with op.batch_alter_table('ingest_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_runs_project_id'), ['project_id'], unique=False)

    op.create_table('items',
    sa.Column('id', ID, nullable=False),
    sa.Column('project_id', ID, nullable=False),
    sa.Column('external_id', sa.String(length=512), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_items_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_items')),
    sa.UniqueConstraint('project_id', 'content_hash', name=op.f('uq_items_project_id_content_hash')),
    sa.UniqueConstraint('project_id', 'external_id', name=op.f('uq_items_project_id_external_id'))
    )
    op.create_table('training_runs',
    sa.Column('id', ID, nullable=False),
    sa.Column('project_id', ID, nullable=True),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('from_adapter', sa.String(length=200), nullable=True),
    sa.Column('candidate_adapter', sa.String(length=200), nullable=True),
    sa.Column('data_hash', sa.String(length=64), nullable=True),
    sa.Column('n_train', sa.Integer(), nullable=True),
    sa.Column('n_gold', sa.Integer(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_training_runs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_runs'))
    )
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_runs_project_id'), ['project_id'], unique=False)

    op.create_table('annotations',
    sa.Column('id', ID, nullable=False),
    sa.Column('item_id', ID, nullable=False),
    sa.Column('annotator', sa.String(length=200), nullable=False),
    sa.Column('emotions', sa.JSON(), nullable=False),
    sa.Column('intensity', sa.Float(), nullable=True),
    sa.Column('cause_start', sa.Integer(), nullable=True),
    sa.Column('cause_end', sa.Integer(), nullable=True),
    sa.Column('cause_text', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('lead_time', sa.Float(), nullable=True),
    sa.Column('external_ref', sa.String(length=200), nullable=True),
    sa.Column('based_on_adapter', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_annotations_item_id_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotations')),
    sa.UniqueConstraint('item_id', 'annotator', name=op.f('uq_annotations_item_id_annotator'))
    )
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotations_annotator'), ['annotator'], unique=False)

    op.create_table('ingest_errors',
    sa.Column('id', ID, nullable=False),
    sa.Column('project_id', ID, nullable=False),
    sa.Column('run_id', ID, nullable=True),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('line_number', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=50), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('raw_excerpt', sa.Text(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('raw_hash', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_ingest_errors_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['ingest_runs.id'], name=op.f('fk_ingest_errors_run_id_ingest_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_errors')),
    sa.UniqueConstraint('project_id', 'source', 'line_number', 'raw_hash', name=op.f('uq_ingest_errors_project_id_source_line_number_raw_hash'))
    )
    with op.batch_alter_table('ingest_errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_errors_run_id'), ['run_id'], unique=False)

    op.create_table('predictions',
    sa.Column('id', ID, nullable=False),
    sa.Column('item_id', ID, nullable=False),
    sa.Column('adapter_version', sa.String(length=200), nullable=False),
    sa.Column('emotions', sa.JSON(), nullable=False),
    sa.Column('intensity', sa.Float(), nullable=True),
    sa.Column('cause_start', sa.Integer(), nullable=True),
    sa.Column('cause_end', sa.Integer(), nullable=True),
    sa.Column('cause_text', sa.Text(), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('provenance', sa.JSON(), nullable=True),
    sa.Column('job_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_predictions_item_id_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions')),
    sa.UniqueConstraint('item_id', 'adapter_version', name=op.f('uq_predictions_item_id_adapter_version'))
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_predictions_adapter_version'), ['adapter_version'], unique=False)


    # projects <-> adapters and adapters -> training_runs reference each other: add those keys last.
    with op.batch_alter_table("projects") as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_projects_active_adapter_id_adapters"), "adapters", ["active_adapter_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("adapters") as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_adapters_training_run_id_training_runs"), "training_runs", ["training_run_id"], ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("adapters") as batch_op:
        batch_op.drop_constraint(op.f("fk_adapters_training_run_id_training_runs"), type_="foreignkey")
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_constraint(op.f("fk_projects_active_adapter_id_adapters"), type_="foreignkey")
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_predictions_adapter_version'))

    op.drop_table('predictions')
    with op.batch_alter_table('ingest_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_errors_run_id'))

    op.drop_table('ingest_errors')
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annotations_annotator'))

    op.drop_table('annotations')
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_runs_project_id'))

    op.drop_table('training_runs')
    op.drop_table('items')
    with op.batch_alter_table('ingest_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_runs_project_id'))

    op.drop_table('ingest_runs')
    with op.batch_alter_table('agreement_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_agreement_reports_project_id_field')

    op.drop_table('agreement_reports')
    with op.batch_alter_table('adapters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adapters_project_id'))

    op.drop_table('adapters')
    op.drop_table('projects')
