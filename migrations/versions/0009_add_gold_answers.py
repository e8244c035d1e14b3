"""Add gold_answers: the known answer of a gold (honeypot) item, to score annotators against.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gold_answers',
    sa.Column('id', ID, nullable=False),
    sa.Column('item_id', ID, nullable=False),
    sa.Column('emotions', sa.JSON(), nullable=False),
    sa.Column('intensity', sa.Float(), nullable=True),
    sa.Column('cause_start', sa.Integer(), nullable=True),
    sa.Column('cause_end', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_gold_answers_item_id_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gold_answers')),
    sa.UniqueConstraint('item_id', name=op.f('uq_gold_answers_item_id'))
    )


def downgrade() -> None:
    op.drop_table('gold_answers')
