internal import TrailScan
internal import TrailJSON

/// Makes attacker-controlled text safe to show on a terminal or in a chat message.
///
/// Log fields (user agents, user names typed at a sign-in page, ARNs, request parameters) are chosen by
/// whoever made the call. Printed raw, an ESC byte starts an ANSI sequence that can rewrite the screen,
/// recolour or hide lines, or set the window title; bidirectional controls reorder what is shown. So:
/// - C0 controls and DEL become `\xHH`, the other `DisplayHazard`s (C1 controls, bidirectional and
///   invisible formatting characters) `\u{HHHH}`;
/// - a backslash becomes `\\`, so an escape in the output can always be told from text that looks like one;
/// - a byte of a file name that is not UTF-8 (carried as U+10FF00 + the byte, see `LocalPath`) becomes `\xHH`.
public enum TerminalText {
    /// - Parameter backslashes: also double backslashes (the default), so an escape in the output can
    ///   always be told from text; pass `false` for text whose backslashes are part of its syntax (the
    ///   `\"` of a rendered JSON template), where only the dangerous characters must change.
    public static func escaped(_ text: some StringProtocol, backslashes: Bool = true) -> String {
        // Printable ASCII without a backslash (most log values) needs no change: no per-character work.
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && ($0 != 0x5C || !backslashes) }
        }
        if plain == true { return String(text) }
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x5C where backslashes: output += "\\\\"
            case 0x00..<0x20, 0x7F: output += "\\x" + hex(scalar.value, width: 2)
            case let value where DisplayHazard.contains(value): output += "\\u{" + hex(value, width: 4) + "}"
            case LocalPath.escapedByteBase...(LocalPath.escapedByteBase + 0xFF):  // a path byte that is not UTF-8
                output += "\\x" + hex(scalar.value - LocalPath.escapedByteBase, width: 2)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    /// JSON text made safe for a terminal without ceasing to be the same JSON: the characters `escaped`
    /// would change (which valid JSON can hold only inside strings) become `\uXXXX` escapes.
    public static func jsonSafe(_ json: some StringProtocol) -> String {
        var output = ""
        output.reserveCapacity(json.utf8.count)
        for scalar in json.unicodeScalars {
            switch scalar.value {
            case let value where DisplayHazard.contains(value) && scalar != "\n" && scalar != "\t" && scalar != "\r":
                output += "\\u" + hex(value, width: 4).lowercased()
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
