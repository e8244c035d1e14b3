"""Add adjudications: a reviewer's final label for an item its annotators disagreed on.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('adjudications',
    sa.Column('id', ID, nullable=False),
    sa.Column('item_id', ID, nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=False),
    sa.Column('emotions', sa.JSON(), nullable=False),
    sa.Column('intensity', sa.Float(), nullable=True),
    sa.Column('cause_start', sa.Integer(), nullable=True),
    sa.Column('cause_end', sa.Integer(), nullable=True),
    sa.Column('cause_text', sa.Text(), nullable=True),
    sa.Column('chosen_from', sa.String(length=200), nullable=True),
    sa.Column('annotators', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_adjudications_item_id_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adjudications')),
    sa.UniqueConstraint('item_id', name=op.f('uq_adjudications_item_id'))
    )


def downgrade() -> None:
    op.drop_table('adjudications')
