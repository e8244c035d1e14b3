"""Add jobs (background work and its progress), users (dashboard accounts) and labelstudio_tasks
(our item -> Label Studio task mapping).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa

# BIGINT keys on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    op.create_table('jobs',
    sa.Column('id', ID, nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('project_id', ID, nullable=True),
    sa.Column('adapter_version', sa.String(length=200), nullable=True),
    sa.Column('queue', sa.String(length=50), nullable=True),
    sa.Column('dispatch', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('done', sa.BigInteger(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_jobs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_project_id_kind', ['project_id', 'kind'], unique=False)

    op.create_table('labelstudio_tasks',
    sa.Column('id', ID, nullable=False),
    sa.Column('project_id', ID, nullable=False),
    sa.Column('item_id', ID, nullable=False),
    sa.Column('ls_project_id', sa.BigInteger(), nullable=False),
    sa.Column('ls_task_id', sa.BigInteger(), nullable=True),
    sa.Column('prediction_version', sa.String(length=200), nullable=True),
    sa.Column('pushed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_labelstudio_tasks_item_id_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_labelstudio_tasks_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_labelstudio_tasks')),
    sa.UniqueConstraint('ls_project_id', 'item_id', name=op.f('uq_labelstudio_tasks_ls_project_id_item_id'))
    )
    with op.batch_alter_table('labelstudio_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_labelstudio_tasks_ls_project_id_ls_task_id', ['ls_project_id', 'ls_task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_labelstudio_tasks_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('labelstudio_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_labelstudio_tasks_project_id'))
        batch_op.drop_index('ix_labelstudio_tasks_ls_project_id_ls_task_id')

    op.drop_table('labelstudio_tasks')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_project_id_kind')

    op.drop_table('jobs')
    op.drop_table('users')
