import logging
import os
import sys
import time

import pytest

from tf_green.bench import (
    CodeCarbonSource,
    EnergyMeter,
    EnergyUnavailableError,
    FakePowerSource,
    PowerSource,
)
from tf_green.bench.codecarbon_source import codecarbon_method
from tf_green.bench.inference_energy import measure_inference_energy


def ticks(*values):
    return iter(values).__next__


def test_meter_with_fake_source_is_exact():
    source = FakePowerSource(12.5, clock=ticks(10.0, 14.0), carbon_intensity_g_per_kwh=360.0)
    with EnergyMeter(source) as meter:
        pass
    assert meter.available
    assert (meter.energy_j, meter.duration_s, meter.power_w) == (50.0, 4.0, 12.5)
    assert meter.co2_g == pytest.approx(50.0 / 3.6e6 * 360.0)
    assert meter.method == "fake: 12.5 W constant"
    assert isinstance(source, PowerSource)


def test_fake_source_keys_power_on_window_labels():
    source = FakePowerSource({"idle": 20.0, "work": 35.0}, clock=ticks(0, 1, 1, 3))
    with EnergyMeter(source, label="idle") as idle:
        pass
    with EnergyMeter(source, label="work") as work:
        pass
    assert (idle.energy_j, work.energy_j) == (20.0, 70.0)
    with pytest.raises(ValueError, match="no power for window label 'train'"):
        FakePowerSource({"idle": 1.0}).start("train")
    with pytest.raises(ValueError, match="`watts` must be >= 0"):
        FakePowerSource(-1.0)


def test_unavailable_source_does_not_stop_the_work():
    ran = []
    with EnergyMeter(FakePowerSource(1.0, unavailable_reason="no power meter here")) as meter:
        ran.append(True)
    assert ran == [True]
    assert not meter.available
    assert meter.energy_j is None and meter.power_w is None and meter.co2_g is None
    assert meter.reason == "no power meter here"
    assert meter.method == "unavailable: no power meter here"
    assert meter.duration_s >= 0.0


def test_meter_misuse_errors():
    with pytest.raises(TypeError, match="`source` must have start"):
        EnergyMeter(source=object())
    meter = EnergyMeter(FakePowerSource(1.0))
    with pytest.raises(RuntimeError, match="called before start"):
        meter.stop()
    meter.start()
    with pytest.raises(RuntimeError, match="already running"):
        meter.start()
    meter.stop()
    assert meter.method.startswith("fake")
    assert EnergyMeter(FakePowerSource(1.0)).method == "not measured yet"


def test_codecarbon_method_is_read_from_its_hardware():
    def hardware(kind, **attributes):
        return type(kind, (), attributes)()

    ram = hardware("RAM", _force_ram_power=None)
    load = hardware("CPU", _mode="cpu_load", _tdp=8)
    method, details = codecarbon_method([ram, load])
    assert method == "estimated: CodeCarbon cpu_load (TDP x load) + RAM model"
    assert details["cpu_tdp_w"] == 8
    rapl = hardware("CPU", _mode="intel_rapl")
    assert codecarbon_method([ram, rapl])[0] == "measured: RAPL"
    gpu = hardware("GPU", devices=None)
    assert codecarbon_method([ram, rapl, gpu])[0] == "measured: RAPL + NVML"
    constant = hardware("CPU", _mode="constant", _tdp=65)
    forced = hardware("RAM", _force_ram_power=10.0)
    assert codecarbon_method([forced, constant, gpu])[0] == (
        "estimated: CodeCarbon constant (50% of TDP) + RAM constant 10 W; measured: NVML"
    )


def test_codecarbon_meter_offline_writes_no_files(tmp_path, monkeypatch, block_network):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    import codecarbon  # its import installs a console handler, which the meter must restore

    assert codecarbon.OfflineEmissionsTracker
    logger = logging.getLogger("codecarbon")
    before = (logger.level, list(logger.handlers))
    with EnergyMeter(country_iso_code="FRA") as meter:
        start = time.perf_counter()
        while time.perf_counter() - start < 0.3:
            sum(range(1000))
    assert meter.available, meter.reason
    assert meter.method.startswith(("measured: ", "estimated: CodeCarbon"))
    assert meter.energy_j > 0 and 0.25 < meter.duration_s < 5
    assert meter.co2_g > 0
    assert meter.reading.details["country_iso_code"] == "FRA"
    assert list(cwd.iterdir()) == [] and list(home.iterdir()) == []
    assert block_network == []
    assert (logger.level, list(logger.handlers)) == before  # its console log is restored


def test_codecarbon_missing_or_failing_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "codecarbon", None)
    with EnergyMeter() as meter:
        pass
    assert not meter.available
    assert meter.method.startswith("unavailable: codecarbon cannot be imported")
    monkeypatch.undo()

    import codecarbon

    class Broken:
        def __init__(self, **kwargs):
            raise OSError("no /proc here")

    monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", Broken)
    with EnergyMeter(CodeCarbonSource()) as meter:
        pass
    assert meter.method == "unavailable: CodeCarbon failed to start: no /proc here"
    with pytest.raises(EnergyUnavailableError, match="not started"):
        CodeCarbonSource().stop()
    with pytest.raises(ValueError, match="`tracking_mode` must be 'machine' or 'process'"):
        CodeCarbonSource(tracking_mode="gpu")


def test_inference_energy_subtracts_idle_power_exactly():
    source = FakePowerSource({"inference": 30.0, "idle": 20.0}, carbon_intensity_g_per_kwh=100.0)
    result = measure_inference_energy(lambda: 4, source=source, window_s=0.05, repeats=1)
    assert result.idle_w == pytest.approx(20.0, rel=1e-12)
    # net = (30 W - 20 W) x inference window, per 1,000 inferences
    expected = 1000.0 * 10.0 * result.inference_s / result.inferences
    assert result.j_per_1k == pytest.approx(expected, rel=1e-9)
    assert result.co2_g_per_1k == pytest.approx(expected / 3.6e6 * 100.0, rel=1e-9)
    assert result.inferences % 4 == 0
    assert result.idle_s == pytest.approx(result.inference_s, rel=0.5)  # slept as long
    assert result.method == "fake: 30 W for 'inference' windows"
    assert result.spread_j_per_1k == 0.0


def test_inference_energy_repeats_give_median_and_spread():
    counts = iter([10, 10, 10] * 10**6)
    source = FakePowerSource({"inference": 25.0, "idle": 5.0})
    result = measure_inference_energy(lambda: next(counts), source=source, window_s=0.02, repeats=3)
    values = result.repeats_j_per_1k
    assert len(values) == 3 and all(value > 0 for value in values)
    # On a loaded machine the calls per window vary and the median may be below resolution
    # (None, and so are min, max and spread): the figures hold whenever it is resolved.
    if result.j_per_1k is None:
        assert result.spread_j_per_1k is None and result.status.startswith("below resolution")
    else:
        assert result.j_per_1k_min <= result.j_per_1k <= result.j_per_1k_max
        assert result.j_per_1k == pytest.approx(sorted(values)[1])
        assert result.spread_j_per_1k == pytest.approx(max(values) - min(values))


def test_inference_energy_unavailable_and_bad_arguments():
    source = FakePowerSource(1.0, unavailable_reason="CodeCarbon cannot run here")
    result = measure_inference_energy(lambda: 1, source=source, window_s=0.01, repeats=3)
    assert not result.available and result.j_per_1k is None and result.spread_j_per_1k is None
    assert result.method == "unavailable: CodeCarbon cannot run here"
    with pytest.raises(ValueError, match="`window_s` must be > 0"):
        measure_inference_energy(lambda: 1, source=source, window_s=0, repeats=1)


def test_no_lock_file_is_taken():
    import codecarbon.lock

    assert CodeCarbonSource().measure_power_secs == 15.0
    before = os.path.exists(codecarbon.lock.LOCKFILE)
    with EnergyMeter() as meter:
        time.sleep(0.05)
    assert meter.available, meter.reason
    assert os.path.exists(codecarbon.lock.LOCKFILE) == before
