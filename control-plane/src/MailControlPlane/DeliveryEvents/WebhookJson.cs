using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MailControlPlane.DeliveryEvents;

/// <summary>Rows as JSON objects (column names as keys) and the batch body the webhook posts.</summary>
internal static class WebhookJson
{
    public static async Task<IReadOnlyList<(long Id, string Json)>> RowsAsync(DbDataReader reader, CancellationToken cancellationToken)
    {
        var result = new List<(long, string)>();
        var buffer = new MemoryStream();
        while (await reader.ReadAsync(cancellationToken))
        {
            buffer.SetLength(0);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                for (int i = 0; i < reader.FieldCount; i++)
                {
                    string name = reader.GetName(i);
                    switch (reader.GetValue(i))
                    {
                        case long l: w.WriteNumber(name, l); break;
                        case int n: w.WriteNumber(name, n); break;
                        case double d: w.WriteNumber(name, d); break;
                        case DateTime t: w.WriteString(name, new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)); break;
                        case DateTimeOffset t: w.WriteString(name, t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)); break;
                        case string s: w.WriteString(name, s); break;
                        case DBNull: w.WriteNull(name); break;
                        case var o: w.WriteString(name, Convert.ToString(o, CultureInfo.InvariantCulture)); break;
                    }
                }

                w.WriteEndObject();
            }

            result.Add((reader.GetInt64(0), Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length)));
        }

        return result;
    }

    /// <summary><c>{"agent":…,"first_id":…,"last_id":…,"events":[…]}</c>, the events in id order.</summary>
    public static byte[] Batch(string agent, IReadOnlyList<(long Id, string Json)> rows)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("agent", agent);
            w.WriteNumber("first_id", rows[0].Id);
            w.WriteNumber("last_id", rows[^1].Id);
            w.WriteStartArray("events");
            foreach (var (_, json) in rows)
                w.WriteRawValue(json, skipInputValidation: true);
            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
