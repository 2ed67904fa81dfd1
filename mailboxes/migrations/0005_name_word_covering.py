"""The word index's lookups read the addresses from the index itself: (word, address) and
(domain, word, address) instead of (word) and (domain, word). The new indexes are built before
the old ones go, so searches keep an index meanwhile."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mailboxes", "0004_mailbox_sort_key"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="nameword",
            index=models.Index(fields=["word", "address"], name="mailadmin_name_word_word_addr"),
        ),
        migrations.AddIndex(
            model_name="nameword",
            index=models.Index(
                fields=["domain", "word", "address"], name="mailadmin_name_word_dom_addr"
            ),
        ),
        migrations.RemoveIndex(
            model_name="nameword",
            name="mailadmin_name_word_word",
        ),
        migrations.RemoveIndex(
            model_name="nameword",
            name="mailadmin_name_word_domain",
        ),
    ]
