"""Add item_claims: an annotator working on an item holds one of its overlap slots until the claim expires.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('item_claims',
    sa.Column('id', ID, nullable=False),
    sa.Column('item_id', ID, nullable=False),
    sa.Column('annotator', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_item_claims_item_id_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_claims')),
    sa.UniqueConstraint('item_id', 'annotator', name=op.f('uq_item_claims_item_id_annotator'))
    )
    op.create_index(op.f('ix_item_claims_item_id'), 'item_claims', ['item_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_item_claims_item_id'), table_name='item_claims')
    op.drop_table('item_claims')
