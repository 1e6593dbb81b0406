"""livegaze.stages: the stage table is the live path, in order."""


def test_the_stage_table_is_the_path_in_order():
    from livegaze.stages import STAGES, Threads

    assert [s.name for s in STAGES] == ["capture", "landmarks", "track", "gate", "align", "correct",
                                        "blend", "sink"]
    kinds = [s.threads for s in STAGES]
    assert kinds == sorted(kinds, key=list(Threads).index)  # threads in path order, never back


def test_every_stage_config_is_an_appconfig_field_of_its_name():
    from livegaze.config import AppConfig
    from livegaze.stages import STAGES

    config = AppConfig()
    for stage in STAGES:
        if stage.config is not None:
            assert type(getattr(config, stage.name)) is stage.config
