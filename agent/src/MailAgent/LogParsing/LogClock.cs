namespace MailAgent.LogParsing;

/// <summary>
/// Turns log timestamps into Unix seconds. BSD stamps carry no year: the first one is placed in
/// the reference year (the year before, when its month lies ahead of the reference month), and
/// the year advances when the month steps back (December → January). Stamps without an offset
/// are read as UTC, which is what Postfix's postlogd and most containers write.
/// </summary>
internal sealed class LogClock
{
    private readonly int _referenceYear;
    private readonly int _referenceMonth;
    private int _year;
    private int _lastMonth;
    private int _cachedDateKey = -1;
    private long _cachedDayStart;
    private LogTimestamp _lastStamp;
    private double _lastSeconds = double.NaN;

    public LogClock(DateTimeOffset reference)
    {
        _referenceYear = reference.UtcDateTime.Year;
        _referenceMonth = reference.UtcDateTime.Month;
    }

    /// <summary>The year placed on the last year-less stamp and that stamp's month (0 before the first): saved in the checkpoint.</summary>
    public (int Year, int LastMonth) State
    {
        get => (_year, _lastMonth);
        set
        {
            (_year, _lastMonth) = value;
            _lastSeconds = double.NaN;
        }
    }

    /// <summary>Unix time in seconds (with the fraction), or NaN when the stamp is not valid.</summary>
    public double ToUnixSeconds(in LogTimestamp t)
    {
        // Lines of the same second follow each other: the same stamp again gives the same instant and
        // leaves the year state as it is (its month is the last month).
        if (t.SecondOfDay == _lastStamp.SecondOfDay && t.Day == _lastStamp.Day && t.Month == _lastStamp.Month && t.Year == _lastStamp.Year
            && t.Microsecond == _lastStamp.Microsecond && t.OffsetMinutes == _lastStamp.OffsetMinutes && !double.IsNaN(_lastSeconds))
            return _lastSeconds;
        double seconds = Convert(t);
        _lastStamp = t;
        _lastSeconds = seconds;
        return seconds;
    }

    private double Convert(in LogTimestamp t)
    {
        if (!t.IsValid)
            return double.NaN;
        int year = t.Year;
        if (year == 0)
        {
            if (_year == 0)
                _year = t.Month > _referenceMonth ? _referenceYear - 1 : _referenceYear;
            else if (t.Month < _lastMonth && _lastMonth - t.Month >= 6)
                _year++;
            else if (t.Month > _lastMonth && t.Month - _lastMonth >= 6)
                _year--; // a stray line from before a year boundary
            _lastMonth = t.Month;
            year = _year;
        }

        int key = (year * 10000) + (t.Month * 100) + t.Day;
        if (key != _cachedDateKey)
        {
            if (year is < 1970 or > 9999 || t.Day > DateTime.DaysInMonth(year, t.Month))
                return double.NaN;
            _cachedDayStart = (long)(new DateTime(year, t.Month, t.Day, 0, 0, 0, DateTimeKind.Utc) - DateTime.UnixEpoch).TotalSeconds;
            _cachedDateKey = key;
        }

        return _cachedDayStart + t.SecondOfDay - (t.OffsetMinutes * 60L) + (t.Microsecond / 1e6);
    }
}
