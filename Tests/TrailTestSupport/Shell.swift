public import Foundation

public enum Shell {
    /// `data` through a shell command, as its standard input; its standard output.
    public static func filter(_ data: Data, through command: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let out = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardInput = input
        try process.run()
        // Write from another thread: a large input would fill both pipes while nobody reads the output.
        let writer = input.fileHandleForWriting
        let written = DispatchSemaphore(value: 0)
        Thread {
            writer.write(data)
            try? writer.close()
            written.signal()
        }.start()
        let result = out.fileHandleForReading.readDataToEndOfFile()
        written.wait()
        process.waitUntilExit()
        return result
    }
}
