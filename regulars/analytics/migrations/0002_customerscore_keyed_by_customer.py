# CustomerScore is a cache that every refresh rewrites whole: it is dropped and created again
# (keyed by its customer, with no database-level foreign keys) rather than altered in place;
# the next refresh fills it.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_apikeys'),
        ('analytics', '0001_initial'),
        ('customers', '0001_initial'),
    ]

    operations = [
        migrations.DeleteModel(name='CustomerScore'),
        migrations.CreateModel(
            name='CustomerScore',
            fields=[
                ('customer', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='analytics_score', serialize=False, to='customers.customer')),
                ('segment', models.CharField(choices=[('champions', 'Champions'), ('loyal', 'Loyal'), ('new', 'New'), ('potential', 'Potential loyalists'), ('cant_lose', "Can't lose"), ('at_risk', 'At risk'), ('hibernating', 'Hibernating'), ('lost', 'Lost')], max_length=16, verbose_name='segment')),
                ('recency_score', models.PositiveSmallIntegerField()),
                ('frequency_score', models.PositiveSmallIntegerField()),
                ('monetary_score', models.PositiveSmallIntegerField()),
                ('orders', models.PositiveIntegerField()),
                ('revenue', models.DecimalField(decimal_places=2, max_digits=12)),
                ('last_purchase', models.DateField()),
                ('p_alive', models.FloatField(null=True)),
                ('p_alive_before', models.FloatField(null=True)),
                ('expected_90d', models.FloatField(null=True)),
                ('clv', models.DecimalField(decimal_places=2, max_digits=12, null=True)),
                ('computed_at', models.DateTimeField()),
                ('business', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.business')),
            ],
            options={
                'verbose_name': 'customer score',
                'verbose_name_plural': 'customer scores',
                'indexes': [models.Index(fields=['business', 'segment'], name='analytics_c_busines_816d46_idx')],
            },
        ),
    ]
