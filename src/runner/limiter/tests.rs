//! The limiter on tokio's paused clock: the schedule, cooldowns, cuts and recovery.

use super::*;

#[tokio::test(start_paused = true)]
async fn spaces_requests_on_an_absolute_schedule() {
    let l = Limiter::new(Rate::PerSecond(10.0), 1);
    let t0 = Instant::now();
    for k in 0..5u32 {
        let slot = l.acquire().await;
        assert_eq!(slot.duration_since(t0), Duration::from_millis(100) * k);
    }
}

#[tokio::test(start_paused = true)]
async fn slightly_late_wakeups_keep_the_schedule() {
    // 30/s is 33.3 ms; timers fire on whole milliseconds, so every waiter wakes up to
    // 1 ms late. The schedule must not drift by that much per request.
    let l = Limiter::new(Rate::PerSecond(30.0), 1);
    let t0 = Instant::now();
    let mut last = t0;
    for _ in 0..31 {
        last = l.acquire().await;
    }
    let took = last.duration_since(t0);
    assert!(
        took >= Duration::from_millis(1000) && took <= Duration::from_millis(1002),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn no_catch_up_after_a_stall_beyond_the_burst() {
    let l = Limiter::new(Rate::PerSecond(10.0), 3);
    l.acquire().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let t1 = Instant::now();
    let mut slots = Vec::new();
    for _ in 0..6 {
        slots.push(l.acquire().await.duration_since(t1));
    }
    // Three back-to-back (the burst), then one per 100 ms.
    assert_eq!(&slots[..3], &[Duration::ZERO; 3]);
    assert_eq!(slots[3], Duration::from_millis(100));
    assert_eq!(slots[5], Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn retry_after_pauses_everyone() {
    let l = std::sync::Arc::new(Limiter::new(Rate::Unlimited, 1));
    let sent = l.acquire().await;
    l.on_429(sent, Some(Duration::from_secs(3)), true);
    let t = Instant::now();
    let a = tokio::spawn({
        let l = l.clone();
        async move { l.acquire().await }
    });
    let b = l.acquire().await;
    assert!(b.duration_since(t) >= Duration::from_secs(3));
    assert!(a.await.unwrap().duration_since(t) >= Duration::from_secs(3));
}

/// Sends at the limiter's pace for `secs`, every request a success.
async fn send_for(l: &Limiter, secs: f64) -> Instant {
    let t0 = Instant::now();
    loop {
        let sent = l.acquire().await;
        l.on_success();
        if sent.duration_since(t0).as_secs_f64() >= secs {
            return sent;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn bare_429_backs_off_lowers_the_rate_and_recovers() {
    let l = Limiter::new(Rate::PerSecond(20.0), 1);
    let sent = send_for(&l, 1.5).await;
    let p = l.on_429(sent, None, true);
    assert!(
        p >= Duration::from_millis(900) && p <= Duration::from_millis(1100),
        "{p:?}"
    );
    // 20/s × 0.7 is 14/s, but the portal accepted about 20/s over the last second: the cut
    // stops at 90 % of that (measured in 100 ms slots, so within a request or so).
    let r = l.effective_rate().unwrap();
    assert!((17.0..=19.5).contains(&r), "{r}");
    // A second 429 from a request sent before the cooldown does not escalate.
    let p2 = l.on_429(sent, None, true);
    assert!(p2 <= p);
    assert!((l.effective_rate().unwrap() - r).abs() < 1e-9);
    // After quiet periods the rate climbs back to the configured one.
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        l.acquire().await;
    }
    assert_eq!(l.effective_rate(), Some(20.0));
}

#[tokio::test(start_paused = true)]
async fn recovery_holds_just_under_what_the_portal_accepted_then_probes() {
    let l = Limiter::new(Rate::Unlimited, 1);
    let rate = |l: &Limiter| l.effective_rate().unwrap_or(f64::INFINITY);
    let mut sent = Instant::now();
    for _ in 0..15 {
        // 100/s for 1.5 s, all accepted
        for _ in 0..10 {
            sent = l.acquire().await;
            l.on_success();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    l.on_429(sent, None, true);
    let cut = rate(&l);
    // Ten quiet 5 s periods, 1 request each (0.2/s accepted): up to 95 % of the limit
    // seen at the cut, and held there until 30 s have passed without a 429.
    let mut seen = Vec::new();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        l.acquire().await;
        seen.push(rate(&l));
    }
    let limit = cut / 0.9;
    assert!((seen[0] - limit * 0.95).abs() < 1e-3, "{cut} then {seen:?}");
    assert_eq!(seen[0], seen[4], "{seen:?}");
    // 31.5 s after the 429: up by 25 % each quiet period, back to unlimited.
    assert!(seen[5] > seen[4] * 1.2, "{seen:?}");
    assert_eq!(seen[9], f64::INFINITY, "{seen:?}");
}

#[tokio::test(start_paused = true)]
async fn a_cut_goes_by_0_7_when_the_portal_accepted_less() {
    // Sends at 20/s, but only every other one succeeded: the accepted 10/s is no floor
    // above 20 × 0.7.
    let l = Limiter::new(Rate::PerSecond(20.0), 1);
    let t0 = Instant::now();
    let mut sent = t0;
    for k in 0..31 {
        sent = l.acquire().await;
        if k % 2 == 0 {
            l.on_success();
        }
    }
    l.on_429(sent, None, true);
    let r = l.effective_rate().unwrap();
    assert!((r - 14.0).abs() < 0.01, "{r}");
}

#[tokio::test(start_paused = true)]
async fn an_early_bare_429_pauses_an_unlimited_run_without_lowering_its_rate() {
    // The first 50 ms of a run (or a resume right after the portal's window ran out):
    // nothing is measured yet, so the run pauses and then goes on at full speed. It used
    // to cut to the floor (0.28/s) and crawl for half a minute.
    let l = Limiter::new(Rate::Unlimited, 1);
    let t0 = Instant::now();
    for _ in 0..5 {
        l.acquire().await;
        l.on_success();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let sent = l.acquire().await;
    let p = l.on_429(sent, None, true);
    assert!(
        p >= Duration::from_millis(900) && p <= Duration::from_millis(1100),
        "{p:?}"
    );
    assert_eq!(l.effective_rate(), None, "still unlimited");
    // Nobody goes before the pause ends; then 100 requests go at once.
    let first = l.acquire().await;
    let waited = first.duration_since(t0) - Duration::from_millis(20);
    // (timers fire on whole milliseconds)
    assert!(
        waited >= p && waited <= p + Duration::from_millis(1),
        "{waited:?}"
    );
    for _ in 0..100 {
        l.on_success();
        assert_eq!(l.acquire().await, first);
    }
    // A later 429, with a second measured, lowers from what was measured (106 requests in
    // the 2 s bucket since the start: 53/s × 0.7), far above the floor.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let sent = l.acquire().await;
    l.on_429(sent, None, true);
    let r = l.effective_rate().expect("now a rate");
    assert!(r > 30.0, "{r}");
}

#[tokio::test(start_paused = true)]
async fn consecutive_429s_double_the_cooldown() {
    let l = Limiter::new(Rate::PerSecond(100.0), 1);
    let s1 = l.acquire().await;
    let p1 = l.on_429(s1, None, true);
    let s2 = l.acquire().await; // after the first cooldown
    let p2 = l.on_429(s2, None, true);
    assert!(p2 > p1 * 3 / 2, "{p1:?} then {p2:?}");
}

#[tokio::test(start_paused = true)]
async fn a_429_after_successes_starts_a_new_episode_from_one_second() {
    let l = Limiter::new(Rate::PerSecond(100.0), 1);
    let s1 = l.acquire().await;
    let p1 = l.on_429(s1, None, true);
    l.acquire().await; // after the cooldown
    l.on_success();
    let s2 = l.acquire().await;
    let p2 = l.on_429(s2, None, true);
    assert!(p2 < p1 * 3 / 2, "{p1:?} then {p2:?}");
}

#[tokio::test(start_paused = true)]
async fn a_concurrency_429_pauses_without_lowering_the_rate() {
    let l = Limiter::new(Rate::PerSecond(20.0), 1);
    let s1 = l.acquire().await;
    let p = l.on_429(s1, None, false);
    assert!(p >= Duration::from_millis(900));
    assert_eq!(l.effective_rate(), Some(20.0));
}
