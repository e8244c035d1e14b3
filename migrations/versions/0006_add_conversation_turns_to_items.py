"""Add items.conversation_id, turn and speaker: an item may be one turn of a conversation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items') as batch:
        batch.add_column(sa.Column('conversation_id', sa.String(length=512), nullable=True))
        batch.add_column(sa.Column('turn', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('speaker', sa.String(length=200), nullable=True))
    op.create_index(op.f('ix_items_project_id_conversation_id_turn'), 'items',
                    ['project_id', 'conversation_id', 'turn'])


def downgrade() -> None:
    op.drop_index(op.f('ix_items_project_id_conversation_id_turn'), table_name='items')
    with op.batch_alter_table('items') as batch:
        batch.drop_column('speaker')
        batch.drop_column('turn')
        batch.drop_column('conversation_id')
