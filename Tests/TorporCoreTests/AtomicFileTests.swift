import Foundation
import Testing
import TorporCore
import TorporTestSupport

@Suite struct AtomicFileTests {
    /// The mode, in octal, of the file at `path`.
    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    /// Written whole; a file already there keeps the mode an administrator gave it; nothing is left beside it.
    @Test func aRewrittenFileKeepsItsMode() throws {
        let dir = try ScratchDirectory.make("atomic")
        let path = dir + "/torpor.prom"
        try AtomicFile.write(Data("a\n".utf8), to: path)
        let mask = umask(0); umask(mask)
        #expect(Self.mode(path) == 0o666 & ~mask, "a new file: the process's umask")
        chmod(path, 0o640)
        try AtomicFile.write(Data("b\n".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "b\n")
        #expect(Self.mode(path) == 0o640, "the administrator's mode kept")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["torpor.prom"])
    }

    /// A symbolic link is followed, not replaced: its target (through a relative link, and a link to a link) is
    /// written, with its mode kept, and the links stay links; a link to nothing yet makes its target; a loop is refused;
    /// a link another user owns is replaced.
    @Test func aLinkIsFollowedNotReplaced() throws {
        let dir = try ScratchDirectory.make("atomic")
        try FileManager.default.createDirectory(atPath: dir + "/metrics", withIntermediateDirectories: true)
        let target = dir + "/metrics/torpor.prom", link = dir + "/torpor.prom", linkToLink = dir + "/latest.prom"
        try AtomicFile.write(Data("a\n".utf8), to: target)
        chmod(target, 0o640)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "metrics/torpor.prom")
        try FileManager.default.createSymbolicLink(atPath: linkToLink, withDestinationPath: link)
        try AtomicFile.write(Data("b\n".utf8), to: linkToLink)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "b\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "metrics/torpor.prom", "the link kept")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: linkToLink) == link, "the link to the link kept")
        #expect(Self.mode(target) == 0o640)
        let dangling = dir + "/next.prom"
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir + "/metrics/next.prom")
        try AtomicFile.write(Data("c\n".utf8), to: dangling)
        #expect(try String(contentsOfFile: dir + "/metrics/next.prom", encoding: .utf8) == "c\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dangling) == dir + "/metrics/next.prom")
        // A link another user made (in a folder it may write) is replaced, never written through. (As root, the tests' user.)
        if geteuid() == 0 {
            let foreign = dir + "/foreign.prom", victim = dir + "/victim"
            try AtomicFile.write(Data("secret\n".utf8), to: victim)
            try FileManager.default.createSymbolicLink(atPath: foreign, withDestinationPath: victim)
            #expect(lchown(foreign, 65534, 65534) == 0)
            try AtomicFile.write(Data("d\n".utf8), to: foreign)
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "secret\n", "not written through")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: foreign)) == nil, "the link replaced")
            #expect(try String(contentsOfFile: foreign, encoding: .utf8) == "d\n")
        }
        let loop = dir + "/loop.prom"
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        let failure = #expect(throws: AtomicFileError.self) { try AtomicFile.write(Data("x".utf8), to: loop) }
        #expect(failure?.description == "\(loop): a loop of symbolic links")
    }

    /// A temporary file a killed writer left is removed by a later write once 10 minutes old; one a live writer is
    /// writing is not, nor a fresh one (its pid may be another namespace's). A file that cannot be written is said with
    /// its path, the old one left whole and no temporary file left.
    @Test func aKilledWritersLeftoverGoesAndAFailureLeavesTheOldFile() throws {
        let dir = try ScratchDirectory.make("atomic")
        let path = dir + "/torpor.prom"
        try AtomicFile.write(Data("old\n".utf8), to: path)
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let dead = dir + "/.torpor.prom.torpor-\(gone.processIdentifier)-1f.tmp", fresh = dir + "/.torpor.prom.torpor-\(gone.processIdentifier)-2e.tmp"
        let live = dir + "/.torpor.prom.torpor-\(getppid())-3d.tmp"
        for leftover in [dead, fresh, live] { #expect(FileManager.default.createFile(atPath: leftover, contents: Data("half".utf8))) }
        let old = Date().addingTimeInterval(-1200)
        for leftover in [dead, live] { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: leftover) }
        try AtomicFile.write(Data("new\n".utf8), to: path)
        #expect(!FileManager.default.fileExists(atPath: dead) && FileManager.default.fileExists(atPath: fresh) && FileManager.default.fileExists(atPath: live))
        for leftover in [fresh, live] { try FileManager.default.removeItem(atPath: leftover) }
        // A directory where the file is: the rename fails.
        let blocked = dir + "/blocked"
        try FileManager.default.createDirectory(atPath: blocked + "/inside", withIntermediateDirectories: true)
        let failure = #expect(throws: AtomicFileError.self) { try AtomicFile.write(Data("x".utf8), to: blocked) }
        #expect(failure?.description.hasPrefix("\(blocked): cannot rename") == true, "\(String(describing: failure))")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["blocked", "torpor.prom"], "no temporary file left")
        #expect(throws: AtomicFileError.self) { try AtomicFile.write(Data("x".utf8), to: dir + "/missing/torpor.prom") }
    }
}
