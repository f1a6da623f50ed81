//! Durations written in `letterpress.yaml`: `7d`, `48h`, `2s`, `500ms`.

use super::ValueError;

/// `value` of `key` as a duration (days count as 24 hours), or why it is not one between `min`
/// and `max` minutes (each with its text for the message); `example` shows the syntax.
pub(super) fn duration(
    key: &str,
    value: &str,
    example: &str,
    (min, min_text): (i64, &str),
    (max, max_text): (i64, &str),
) -> Result<jiff::SignedDuration, ValueError> {
    let span: jiff::Span =
        value.trim().parse().map_err(|_| format!("`{key}` `{value}` is not a duration such as {example}"))?;
    let duration = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| format!("`{key}` `{value}` must be in days, hours or minutes"))?;
    if duration < jiff::SignedDuration::from_mins(min) || duration > jiff::SignedDuration::from_mins(max) {
        return Err(format!("`{key}` `{value}` must be between {min_text} and {max_text}").into());
    }
    Ok(duration)
}

/// `value` of `key` as a duration between 10 milliseconds and 10 minutes: `2s`, `500ms`, `1m`.
pub(super) fn short_duration(key: &str, value: &str) -> Result<std::time::Duration, ValueError> {
    let error = || format!("`{key}` `{value}` is not a duration between 10ms and 10m such as `2s`");
    let duration: jiff::SignedDuration = value.trim().parse().map_err(|_| error())?;
    let duration = std::time::Duration::try_from(duration).map_err(|_| error())?;
    if duration < std::time::Duration::from_millis(10) || duration > std::time::Duration::from_secs(600) {
        return Err(error().into());
    }
    Ok(duration)
}
