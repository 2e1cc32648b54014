using System.Globalization;

namespace MailControlPlane.Scoring;

/// <summary>The small formulas of the score, apart so they are tested on numbers.</summary>
internal static class ScoreMath
{
    /// <summary>Lower bound of the Wilson score interval of the proportion <paramref name="successes"/> / <paramref name="trials"/> (read failures for a proven failure rate) (z = 1.96: 95%); 0 for no trials.</summary>
    public static double WilsonLowerBound(long successes, long trials, double z)
    {
        if (trials <= 0)
            return 0;
        double n = trials;
        double p = Math.Clamp(successes / n, 0, 1);
        double z2 = z * z;
        double centre = p + z2 / (2 * n);
        double spread = z * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        return Math.Max(0, (centre - spread) / (1 + z2 / n));
    }

    /// <summary>0 at or below <paramref name="zero"/>, 1 at or above <paramref name="full"/>, linear between (works for either order of the anchors).</summary>
    public static double Linear(double value, double zero, double full)
    {
        if (zero == full)
            return value >= full ? 1 : 0;
        return Math.Clamp((value - zero) / (full - zero), 0, 1);
    }

    /// <summary>A duration for people: "42 s", "2 min 7 s", "1 h 5 min".</summary>
    public static string Human(TimeSpan span)
    {
        if (span < TimeSpan.Zero)
            span = TimeSpan.Zero;
        if (span < TimeSpan.FromMinutes(1))
            return string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalSeconds} s");
        if (span < TimeSpan.FromHours(1))
            return span.Seconds == 0
                ? string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalMinutes} min")
                : string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalMinutes} min {span.Seconds} s");
        return span.Minutes == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalHours} h")
            : string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalHours} h {span.Minutes} min");
    }

    public static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>A fraction as a percentage: 0.3 → "30%".</summary>
    public static string Percent(double fraction, string format = "0.#") => F(fraction * 100, format) + "%";
}
