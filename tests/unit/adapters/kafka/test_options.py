"""Client options: unusable TLS files are a configuration error; an absent broker is not a refusal."""

from pathlib import Path

import pytest

from liveflow.adapters.kafka.options import KafkaConfigError, aiokafka_kwargs, refusal
from liveflow.settings import Settings
from liveflow.tools.devstack.process import free_port


def test_a_missing_ca_file_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere-ca.pem"
    settings = Settings.model_construct(kafka_security_protocol="SSL", kafka_ssl_cafile=missing)

    with pytest.raises(KafkaConfigError) as info:
        aiokafka_kwargs(settings)

    assert (
        str(info.value) == f"cannot use the Kafka TLS files ({missing}): [Errno 2] No such file or directory"
    )


def test_a_ca_file_that_is_no_certificate_is_a_configuration_error(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    settings = Settings.model_construct(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=garbage)

    with pytest.raises(KafkaConfigError, match=r"^cannot use the Kafka TLS files \(.*ca\.pem\): "):
        aiokafka_kwargs(settings)


async def test_brokers_that_do_not_answer_are_an_outage_not_a_refusal() -> None:
    settings = Settings.model_construct(brokers=f"127.0.0.1:{free_port()}")

    assert await refusal(settings) is None
