"""Add adjudications.cause_turn and cause_outside: a reviewer's final cause may lie in an earlier turn of the
item's conversation, or outside it, as an annotator's may.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('adjudications') as batch:
        batch.add_column(sa.Column('cause_turn', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('cause_outside', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('adjudications') as batch:
        batch.drop_column('cause_outside')
        batch.drop_column('cause_turn')
