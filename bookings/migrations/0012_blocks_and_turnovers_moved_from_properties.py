"""``AvailabilityBlock`` and ``TurnoverTask`` now belong to ``bookings`` (occupancy): added to this app's state
only, on the tables ``properties`` created (``db_table``, index and constraint names kept); ``properties`` drops
them from its state in ``properties/0008``. The content types follow (``properties.*`` → ``bookings.*``), so the
groups' permissions, the admin's history and anything else pointing at them keep pointing at them.

A block's ``connection`` is already a plain id here (``properties/0007`` dropped the foreign key).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import core.fields

MOVED = ("availabilityblock", "turnovertask")


def move_content_types(apps, schema_editor, source="properties", target="bookings"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, source="bookings", target="properties")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0011_outbox_moved_to_core"),
        ("properties", "0007_block_connection_without_foreign_key"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AvailabilityBlock',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('start_date', models.DateField()),
                        ('end_date', models.DateField(help_text='Exclusive: the day after the last night.')),
                        ('reason', models.CharField(choices=[('blocked', 'Blocked'), ('maintenance', 'Maintenance'), ('owner_use', 'Owner use'), ('channel', 'Not available on a channel')], default='blocked', max_length=20)),
                        ('note', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('connection', core.fields.UpwardReference(blank=True, db_index=True, null=True)),
                        ('tentative', models.BooleanField(default=False, help_text="Tentative on the platform (e.g. Vrbo 'Provisoire').")),
                        ('external_summary', models.TextField(blank=True, help_text="The event's summary and description as imported.")),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                        ('property', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='blocks', to='properties.property')),
                    ],
                    options={
                        'db_table': 'properties_availabilityblock',
                        'ordering': ['start_date', 'id'],
                        'indexes': [models.Index(fields=['property', 'start_date', 'end_date'], name='properties__propert_a6b84d_idx')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('end_date__gt', models.F('start_date'))), name='block_range_valid')],
                    },
                ),
                migrations.CreateModel(
                    name='TurnoverTask',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('due_date', models.DateField(db_index=True, help_text="The stay's check-out day.")),
                        ('window_end', models.DateField(help_text="The next stay's check-in on this property, or the day after.")),
                        ('status', models.CharField(choices=[('open', 'Open'), ('done', 'Done')], db_index=True, default='open', max_length=10)),
                        ('done_at', models.DateTimeField(blank=True, null=True)),
                        ('notes', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='turnover_tasks', to=settings.AUTH_USER_MODEL)),
                        ('booking', models.OneToOneField(help_text='The stay that ends on the due date.', on_delete=django.db.models.deletion.CASCADE, related_name='turnover_task', to='bookings.booking')),
                        ('done_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('property', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='turnover_tasks', to='properties.property')),
                    ],
                    options={
                        'db_table': 'properties_turnovertask',
                        'ordering': ['due_date', 'pk'],
                        'indexes': [models.Index(fields=['property', 'due_date'], name='properties__propert_728bb0_idx')],
                    },
                ),
            ],
            database_operations=[
                migrations.RunPython(move_content_types, move_content_types_back),
            ],
        ),
    ]
