import pytest

from tradematch.settings import SettingsError, load_settings, parse_override


def write_env(tmp_path, text, name="test"):
    (tmp_path / "env").mkdir(exist_ok=True)
    (tmp_path / "env" / f"{name}.yaml").write_text(text)
    return tmp_path


GOOD = """
lake: /tmp/lake
master: "local[2]"
jars_dir: .jars
log_level: WARN
lock_stale_after_minutes: 60
staging_keep_failed: true
vacuum_retention_hours: 168
spark.driver.memory: 2g
spark.sql.adaptive.enabled: true
"""


def test_good_file_loads_typed_values_and_passes_spark_keys_through(tmp_path):
    s = load_settings("test", conf_dir=write_env(tmp_path, GOOD))
    assert s.lock_stale_after_minutes == 60 and s.staging_keep_failed is True
    assert s.spark == {"spark.driver.memory": "2g", "spark.sql.adaptive.enabled": "true"}
    assert s.lake_uri() == "/tmp/lake"


def test_set_overrides_a_setting_with_its_yaml_type(tmp_path):
    s = load_settings("test", ["lock_stale_after_minutes=5", "spark.driver.memory=1g", "master=local[1]"],
                      conf_dir=write_env(tmp_path, GOOD))
    assert (s.lock_stale_after_minutes, s.spark["spark.driver.memory"], s.master) == (5, "1g", "local[1]")


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    conf = write_env(tmp_path, GOOD + "lok_stale: 3\n")
    with pytest.raises(SettingsError, match=r"test\.yaml: unknown key 'lok_stale'"):
        load_settings("test", conf_dir=conf)


def test_missing_key_names_the_key_and_the_file(tmp_path):
    conf = write_env(tmp_path, GOOD.replace("log_level: WARN\n", ""))
    with pytest.raises(SettingsError, match=r"test\.yaml: missing key 'log_level'"):
        load_settings("test", conf_dir=conf)


@pytest.mark.parametrize("line, key", [
    ("lock_stale_after_minutes: soon", "lock_stale_after_minutes"),
    ("staging_keep_failed: 3", "staging_keep_failed"),
    ("log_level: LOUD", "log_level"),
    ("lake: ''", "lake"),
])
def test_bad_value_names_the_key_and_the_file(tmp_path, line, key):
    text = "\n".join(line if l.startswith(key + ":") else l for l in GOOD.splitlines())
    with pytest.raises(SettingsError, match=rf"test\.yaml: key '{key}'"):
        load_settings("test", conf_dir=write_env(tmp_path, text))


def test_bad_override_names_the_override(tmp_path):
    with pytest.raises(SettingsError, match=r"--set lock_stale_after_minutes: key"):
        load_settings("test", ["lock_stale_after_minutes=-1"], conf_dir=write_env(tmp_path, GOOD))
    with pytest.raises(SettingsError, match="expected key=value"):
        parse_override("no-equals-sign")


def test_unknown_environment_lists_the_known_ones(tmp_path):
    with pytest.raises(SettingsError, match=r"unknown environment 'prod'.*\['test'\]"):
        load_settings("prod", conf_dir=write_env(tmp_path, GOOD))


def test_file_that_is_not_yaml_is_named(tmp_path):
    with pytest.raises(SettingsError, match="test.yaml: not valid YAML"):
        load_settings("test", conf_dir=write_env(tmp_path, "lake: [unclosed\n"))


@pytest.mark.parametrize("env", ["local", "cluster"])
def test_shipped_environments_load(env):
    assert load_settings(env).spark["spark.sql.session.timeZone"] == "UTC"
