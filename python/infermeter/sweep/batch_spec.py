"""AWS Batch job definition and array-job submission for a sharded sweep:
each child container runs `infermeter sweep CONFIG --shard I/N` with I from
AWS_BATCH_JOB_ARRAY_INDEX. The two documents are the request bodies of
Batch's RegisterJobDefinition and SubmitJob (`aws batch
register-job-definition --cli-input-json file://...`)."""

from __future__ import annotations

import shlex

from infermeter.sweep.config import SweepConfig

MAX_ARRAY_SIZE = 10_000  # AWS Batch's limit for an array job


def batch_spec(config: SweepConfig, config_path: str, shards: int, image: str, job_queue: str, *,
               results_dir: str = "/results", vcpus: int = 4, memory_mib: int = 16384,
               instance: str | None = None) -> dict:
    if not 1 <= shards <= MAX_ARRAY_SIZE:
        raise ValueError(f"--shards must be between 1 and {MAX_ARRAY_SIZE}, got {shards}")
    name = f"infermeter-{config.name}".replace(".", "-")[:128]
    sweep = ["infermeter", "sweep", config_path, "--quiet", "--resume"] + (["--instance", instance] if instance else [])
    # The shell expands the index Batch sets in each child; with one shard there is no array.
    index = "${AWS_BATCH_JOB_ARRAY_INDEX:-0}"
    command = (" ".join(shlex.quote(a) for a in sweep) + f" --shard {index}/{shards}"
               f" -o {shlex.quote(results_dir)}/{config.name}/shard-{index}-of-{shards}")
    resources = [{"type": "VCPU", "value": str(vcpus)}, {"type": "MEMORY", "value": str(memory_mib)}]
    if config.device.startswith("cuda"):
        resources.append({"type": "GPU", "value": "1"})
    job_definition = {
        "jobDefinitionName": name,
        "type": "container",
        "platformCapabilities": ["EC2"],
        "retryStrategy": {"attempts": 2},
        "containerProperties": {"image": image, "command": ["sh", "-c", command],
                                "resourceRequirements": resources},
    }
    submit = {"jobName": name, "jobQueue": job_queue, "jobDefinition": name}
    if shards > 1:
        submit["arrayProperties"] = {"size": shards}
    return {"registerJobDefinition": job_definition, "submitJob": submit}
