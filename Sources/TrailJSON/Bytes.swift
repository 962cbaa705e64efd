/// The ASCII bytes the JSON grammar is written in.
@usableFromInline
enum Byte {
    @usableFromInline static let quote: UInt8 = 0x22  // "
    @usableFromInline static let backslash: UInt8 = 0x5C  // \
    @usableFromInline static let slash: UInt8 = 0x2F  // /
    @usableFromInline static let comma: UInt8 = 0x2C  // ,
    @usableFromInline static let colon: UInt8 = 0x3A  // :
    @usableFromInline static let minus: UInt8 = 0x2D  // -
    @usableFromInline static let plus: UInt8 = 0x2B  // +
    @usableFromInline static let dot: UInt8 = 0x2E  // .
    @usableFromInline static let zero: UInt8 = 0x30  // 0
    @usableFromInline static let nine: UInt8 = 0x39  // 9
    @usableFromInline static let openBrace: UInt8 = 0x7B  // {
    @usableFromInline static let closeBrace: UInt8 = 0x7D  // }
    @usableFromInline static let openBracket: UInt8 = 0x5B  // [
    @usableFromInline static let closeBracket: UInt8 = 0x5D  // ]
    @usableFromInline static let b: UInt8 = 0x62
    @usableFromInline static let e: UInt8 = 0x65
    @usableFromInline static let f: UInt8 = 0x66
    @usableFromInline static let n: UInt8 = 0x6E
    @usableFromInline static let r: UInt8 = 0x72
    @usableFromInline static let t: UInt8 = 0x74
    @usableFromInline static let u: UInt8 = 0x75
}
