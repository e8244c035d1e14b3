"""Add per-emotion intensities to predictions and annotations, and tuned thresholds and the readout to adapters.

A prediction of the one-pass readout holds an intensity per emotion (``intensities``, label -> [0, 1]); its
``intensity`` stays the item-level figure (that of its most probable emotion). An annotation may give an
intensity per chosen emotion the same way. An adapter row records its readout (``onepass.v1`` or
``instruction``) and the per-label decision thresholds tuned with it (taxonomy -> label -> threshold).
Existing rows keep NULL: their item-level intensity is all they have.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intensities', sa.JSON(), nullable=True))
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intensities', sa.JSON(), nullable=True))
    with op.batch_alter_table('adapters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('readout', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('thresholds', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('adapters', schema=None) as batch_op:
        batch_op.drop_column('thresholds')
        batch_op.drop_column('readout')
    with op.batch_alter_table('annotations', schema=None) as batch_op:
        batch_op.drop_column('intensities')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('intensities')
