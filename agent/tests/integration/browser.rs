//! The review UI in a real browser: Debian's `chromium` driven through
//! `chromedriver` (WebDriver, with fantoccini) against the real
//! `duanka-agent serve` over its self-signed TLS. An analyst logs in, opens a
//! case, reveals its owner, confirms it, exports the block list and logs out;
//! a screenshot of each step is saved in `target/ui-screenshots/`.
//!
//! Without chromium or chromedriver this test fails naming the missing
//! binary (install: `apt-get install -y chromium chromium-driver`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

use crate::support::agent::Agent;
use crate::support::ui::{imsis, seed_case, OWNER, OWNER_MASKED};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "browser-test-passphrase";

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require(binary: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: the browser test needs Debian's chromium and chromium-driver \
         (apt-get install -y chromium chromium-driver; scripts/test installs them)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

async fn wait_for_path(c: &fantoccini::Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = c.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        if Instant::now() >= deadline {
            shot(c, "failure").await;
            let page = c.source().await.unwrap_or_default();
            panic!("still at {url}, expected {path}; the page:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_reviews_confirms_and_exports_in_chromium() {
    require(CHROMIUM);
    require(CHROMEDRIVER);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = duanka_agent::store::Store::open(&data).unwrap();
    let case = seed_case(&store, 1);
    duanka_agent::users::add_user(store.conn(), "wang", duanka_agent::auth::Role::Analyst, PASSWORD, 0).unwrap();
    store.close().unwrap();
    let agent = Agent::start(&data);
    let base = format!("https://{}", agent.addr);

    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}")),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{CHROMEDRIVER} did not listen on port {port} within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = dir.path().join("chromium-profile");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let caps = serde_json::json!({
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--ignore-certificate-errors", "--window-size=1400,1000", "--lang=zh-CN",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        },
    });
    let serde_json::Value::Object(caps) = caps else { unreachable!() };
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("cannot open a chromium session through {CHROMEDRIVER}: {e}"));

    // Log in.
    c.goto(&format!("{base}/cases/{case}")).await.unwrap();
    wait_for_path(&c, "/login").await;
    c.find(Locator::Id("name")).await.unwrap().send_keys("wang").await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    shot(&c, "01-login").await;
    c.find(Locator::Id("login")).await.unwrap().click().await.unwrap();
    // Back where the login started: the case, owners masked.
    wait_for_path(&c, &format!("/cases/{case}")).await;
    let page = c.source().await.unwrap();
    assert!(page.contains(OWNER_MASKED) && !page.contains(OWNER), "owner masked before reveal");
    shot(&c, "02-case-masked").await;

    // The case list has it.
    c.goto(&format!("{base}/cases")).await.unwrap();
    c.find(Locator::Css("a.case-link")).await.unwrap();
    shot(&c, "03-case-list").await;
    c.find(Locator::Css("a.case-link")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, &format!("/cases/{case}")).await;

    // Reveal.
    c.find(Locator::Id("reveal")).await.unwrap().click().await.unwrap();
    // The reveal is a form post: wait for the page it brings, not the one still shown.
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("revealed")).await.unwrap();
    assert!(c.source().await.unwrap().contains(OWNER), "owner shown after reveal");
    shot(&c, "04-case-revealed").await;

    // Confirm with a reason.
    c.find(Locator::Id("state-confirmed")).await.unwrap().click().await.unwrap();
    c.find(Locator::Id("reason")).await.unwrap().send_keys("7 cards on one id in a GoIP gateway").await.unwrap();
    c.find(Locator::Id("decide")).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.source().await.unwrap().contains("badge state-confirmed") {
        assert!(Instant::now() < deadline, "the case did not show as confirmed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(&c, "05-case-confirmed").await;

    // Export the block list: a CSV lands in the download directory.
    c.goto(&format!("{base}/exports")).await.unwrap();
    assert_eq!(c.find(Locator::Id("confirmed-count")).await.unwrap().text().await.unwrap(), "1");
    shot(&c, "06-exports").await;
    c.find(Locator::Id("export-blocklist")).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let csv = loop {
        let done = std::fs::read_dir(&downloads)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "csv"));
        if let Some(p) = done {
            break std::fs::read_to_string(p).unwrap();
        }
        assert!(Instant::now() < deadline, "no block list CSV in {} after 30 s", downloads.display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for imsi in imsis(1) {
        assert!(csv.contains(&imsi), "{imsi} in the block list: {csv}");
    }

    // Log out.
    c.find(Locator::Id("logout")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/login").await;
    shot(&c, "07-logged-out").await;
    c.goto(&format!("{base}/cases")).await.unwrap();
    wait_for_path(&c, "/login").await;
    c.close().await.unwrap();
    drop(driver);

    // The trail: login, reveal, decision, export, logout — in that order.
    let conn = rusqlite::Connection::open(data.join(duanka_agent::store::DB_FILE)).unwrap();
    let actions: Vec<String> = conn
        .prepare("SELECT action FROM audit_log WHERE actor = 'user:wang' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(actions, ["login", "case.reveal", "case.decision", "export", "logout"]);
    agent.terminate();
}
