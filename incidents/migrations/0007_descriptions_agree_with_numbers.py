"""Rule descriptions that agree with their number ("went offline 1 time", not "1
times"): rows still holding the old default text get the new one; edited ones are
left as they are."""

from django.db import migrations

# counter: (old default, new default)
DESCRIPTIONS = {
    "stream_changed_offline_count": (
        "{value} {op} {threshold} means the camera's video stream went offline {value} times since the Box's previous report: check the camera's power and network.",
        "{value} {op} {threshold} means the camera's video stream went offline {value:time|times} since the Box's previous report: check the camera's power and network."
    ),
    "movies_discarded_count": (
        "{value} {op} {threshold} means the Box discarded {value} recorded movies before it could process them: it is falling behind or short of disk space.",
        "{value} {op} {threshold} means the Box discarded {value:recorded movie|recorded movies} without processing: it is falling behind or short of disk space."
    ),
    "events_purged_count": (
        "{value} {op} {threshold} means {value} detected events were purged from the Box before they were uploaded: video of them is lost.",
        "{value} {op} {threshold} means {value:detected event was|detected events were} purged from the Box before upload: that video is lost."
    ),
    "movies_purged_count": (
        "{value} {op} {threshold} means {value} movies were purged from the Box's storage before they were uploaded: the upload link cannot keep up.",
        "{value} {op} {threshold} means {value:movie was|movies were} purged from the Box's storage before upload: the upload link cannot keep up."
    ),
    "segmentation_process_restart_count": (
        "{value} {op} {threshold} means the network connection to the video stream is unstable: it restarted {value} times in {window_minutes} minutes.",
        "{value} {op} {threshold} means the network connection to the video stream is unstable: it restarted {value:time|times} in {window_minutes:minute|minutes}."
    ),
    "upload_queue_length": (
        "{value} {op} {threshold} means the Box's upload queue holds {value} items, more than the domain's minimum: uploads are falling behind.",
        "{value} {op} {threshold} means the Box's upload queue holds {value:item|items}, more than the domain's minimum: uploads are falling behind."
    )
}


def reword(apps, schema_editor):
    CounterRule = apps.get_model("incidents", "CounterRule")
    for counter, (old, new) in DESCRIPTIONS.items():
        CounterRule.objects.filter(counter=counter, description=old).update(description=new)


def unreword(apps, schema_editor):
    CounterRule = apps.get_model("incidents", "CounterRule")
    for counter, (old, new) in DESCRIPTIONS.items():
        CounterRule.objects.filter(counter=counter, description=new).update(description=old)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_unique_report_time_and_content")]
    operations = [migrations.RunPython(reword, unreword)]
