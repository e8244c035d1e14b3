"""Add annotations.cause_turn and cause_outside: a cause may lie in an earlier turn of the item's
conversation, or outside the conversation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('annotations') as batch:
        batch.add_column(sa.Column('cause_turn', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('cause_outside', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('annotations') as batch:
        batch.drop_column('cause_outside')
        batch.drop_column('cause_turn')
