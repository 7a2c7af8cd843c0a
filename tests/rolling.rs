//! A rolling apply over 8 real hosts: a health command fails on the 3rd host, the rollout stops
//! after that host's wave, the later hosts are untouched; after the fix, `--resume` completes
//! the rollout, and a converged fleet is one round trip per host with no gate. Hosts h17 - h24 (tests/util/HOSTS.md).

mod util;

use util::{Lab, host, rampart_json};

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn rolling_stops_at_the_failing_wave_and_resume_completes_it() {
    let lab = Lab::get();
    let hosts = ["h17", "h18", "h19", "h20", "h21", "h22", "h23", "h24"];
    lab.reset(&hosts);
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &hosts, "root");
    let i = inv.to_str().expect("utf-8");
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        "[rolling]\nserial = [1, 2, \"100%\"]\nmax_fail = 0\nhealth = \"test ! -e /etc/rampart-unhealthy\"\n\n[[play]]\nhosts = \"lab\"\nroles = [\"ufw\"]\n",
    )
    .expect("write site");
    let s = site.to_str().expect("utf-8");
    lab.sh("h19", "touch /etc/rampart-unhealthy");
    let later = &hosts[3..];
    let before: Vec<String> = later.iter().map(|h| lab.state_hash(h)).collect();

    let (code, doc) = rampart_json(&["apply", "-i", i, s]);
    assert_eq!(code, 3, "{}", util::brief(&doc));
    for h in ["h17", "h18"] {
        let r = host(&doc, h);
        assert!(r["error"].is_null(), "{r}");
        assert!(r["changed"].as_u64().unwrap_or(0) > 0, "{r}");
        assert!(
            r["verify"]
                .as_array()
                .is_some_and(|v| v.iter().all(|c| c["pass"] == true)),
            "{r}"
        );
    }
    let bad = host(&doc, "h19");
    assert!(
        bad["error"]
            .as_str()
            .unwrap_or_default()
            .contains("health gate failed after wave 2"),
        "{bad}"
    );
    for h in later {
        let r = host(&doc, h);
        assert!(
            r["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("not run: the rollout stopped after wave 2"),
            "{r}"
        );
        // Later hosts were staged with the fleet (read-only, for the preflight barrier) and
        // never applied to: one connection, one round trip (the probe).
        assert!(
            r["connections"].as_u64() <= Some(1) && r["round_trips"].as_u64() <= Some(1),
            "a later host must only have been read: {r}"
        );
    }
    let after: Vec<String> = later.iter().map(|h| lab.state_hash(h)).collect();
    assert_eq!(
        before, after,
        "hosts after the failed wave must be untouched"
    );
    let journal = dir.path().join(".rampart/journal-site.json");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).expect("journal")).expect("json");
    assert_eq!(j["status"], "stopped");
    assert_eq!(j["hosts"]["h17"]["outcome"], "ok");
    assert_eq!(j["hosts"]["h19"]["outcome"], "failed");
    assert_eq!(j["hosts"]["h24"]["outcome"], "pending");

    // Fix the host and resume: only the unfinished hosts run, and the rollout completes.
    lab.sh("h19", "rm /etc/rampart-unhealthy");
    let (code, doc) = rampart_json(&["apply", "-i", i, s, "--resume"]);
    assert_eq!(code, 0, "{}", util::brief(&doc));
    let ran: Vec<&str> = doc["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .filter_map(|h| h["host"].as_str())
        .collect();
    assert_eq!(ran, ["h19", "h20", "h21", "h22", "h23", "h24"]);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).expect("journal")).expect("json");
    assert_eq!(j["status"], "complete");
    assert!(
        j["hosts"]
            .as_object()
            .expect("hosts")
            .values()
            .all(|e| e["outcome"] == "ok"),
        "{j}"
    );

    // A converged fleet: every host is done in the fleet-wide staging pass. No waves and no
    // gate: one connection and one round trip per host, exactly as without [rolling].
    let (code, doc) = rampart_json(&["apply", "-i", i, s]);
    assert_eq!(code, 0, "{}", util::brief(&doc));
    for h in hosts {
        let r = host(&doc, h);
        assert_eq!(r["changed"], 0, "{r}");
        assert_eq!(
            (r["connections"].as_u64(), r["round_trips"].as_u64()),
            (Some(1), Some(1)),
            "{r}"
        );
        assert!(
            r["verify"].as_array().is_none_or(Vec::is_empty),
            "no gate on a no-change host: {r}"
        );
    }
}
