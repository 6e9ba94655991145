import XCTest

@testable import Pipeline

/// The volume record format round trip: records encoded by `PipelineRecords`, written by `PaxWriter`, read back by
/// `PaxReader` and decoded give the values that went in.
final class PipelineRecordsTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try PaxTestSupport.makeDirectory()
    }

    override func tearDown() {
        PaxTestSupport.removeDirectory(directory)
    }

    /// A file row with every field the member records carry; the path is not UTF-8.
    private func fileRecord(index: Int64) -> FileRecord {
        var record = FileRecord(
            jobID: JobID(rawValue: 7), fileIndex: index, path: Array("/data/caf".utf8) + [0xE9, 0xFF, 0x0A, 0x3D],
            kind: .file)
        record.size = 1_234_567
        record.device = 2049
        record.inode = 9_876_543
        record.nlink = 2
        record.sourceSHA256 = (0..<32).map { UInt8($0) }
        record.storedSHA256 = (0..<32).map { UInt8(255 - $0) }
        record.signatureAlgorithm = "SHA512"
        record.signature = (0..<64).map { UInt8($0 * 3 & 0xFF) }
        record.chain = ["compression:gzip", "python3:module_path=/p:module_name=a=b", "quote\"and\\back"]
        record.stageMetadata = ["gpg": "fingerprint=ABC", "note": "line\nbreak \"quoted\" é", "host.member_suffix": ".gpg"]
        record.block = 3
        return record
    }

    private func label(sequence: Int64) -> PipelineRecords.Label {
        PipelineRecords.Label(
            jobID: JobID(rawValue: 7), name: "nightly", clientName: "büro-fd", level: "Incremental",
            fileSetName: "home set", fileSetDigest: "abc123",
            start: FileStat.Timestamp(seconds: 1_700_000_000, nanoseconds: 5),
            since: FileStat.Timestamp(seconds: 1_690_000_000, nanoseconds: 999_999_999), sequence: sequence,
            jobData: [JobDatum(key: "gpg.job_key", value: [0, 1, 0xFF, 0x0A, 0x3D]), JobDatum(key: "x", value: [])])
    }

    func testRoundTripThroughAVolume() throws {
        let path = directory + "/volume.tar"
        let writer = try PaxWriter(path: path, mode: 0o600)
        try writer.appendGlobalHeader(records: label(sequence: 1).records)

        // A member written whole, with its compression.
        let file = fileRecord(index: 1)
        var member = VolumeMember(name: Array("data/file.gz".utf8), kind: .file, size: 3)
        member.records = [PipelineRecords.compression("gzip")] + PipelineRecords.member(file, jobID: file.jobID)
        _ = try [UInt8]("abc".utf8).withUnsafeBytes { raw in try writer.append(member, data: raw) }

        // A hard link whose original first name is not UTF-8 either.
        var link = FileRecord(jobID: file.jobID, fileIndex: 2, path: [0x2F, 0x80, 0x81], kind: .hardLink)
        link.linkTarget = file.path
        link.nlink = 2
        let linkMember = VolumeMember(
            name: [0x80, 0x81], kind: .hardLink, linkTarget: Array("data/file.gz".utf8),
            records: PipelineRecords.member(link, jobID: link.jobID))
        _ = try writer.append(linkMember, data: UnsafeRawBufferPointer(start: nil, count: 0))

        // A streamed member: digests start as placeholders and are patched at the end; its metadata comes late.
        var streamed = fileRecord(index: 3)
        streamed.stageMetadata = [:]
        streamed.sourceSHA256 = nil
        streamed.storedSHA256 = nil
        streamed.signature = nil
        let streamedMember = VolumeMember(
            name: Array("data/big".utf8), kind: .file,
            records: PipelineRecords.member(streamed, jobID: streamed.jobID)
                + PipelineRecords.digestPlaceholders(signature: .sha512))
        _ = try writer.beginMember(streamedMember)
        try [UInt8](repeating: 7, count: 5000).withUnsafeBytes { raw in try writer.write(raw) }
        let final = fileRecord(index: 3)
        _ = try writer.finishMember(patching: PipelineRecords.digests(final))
        try writer.appendGlobalHeader(records: PipelineRecords.lateMetadata(final))

        // The trailer, with Accurate deletions.
        let deletedPaths: [[UInt8]] = [[0x2F, 0xC3, 0x28], Array("/gone".utf8)]
        try writer.appendGlobalHeader(
            records: [
                PipelineRecords.trailer("job", "7"), PipelineRecords.trailer("end", "1700000100.000000042"),
                PipelineRecords.trailer("files_stored", "3"), PipelineRecords.trailer("bytes_read", "1234567"),
            ] + deletedPaths.map(PipelineRecords.deleted))
        try writer.close()

        let reader = try PaxReader(path: path)
        var decoder = PipelineRecords.MemberDecoder()
        var members: [PipelineRecords.Member] = []
        while let (member, _) = try reader.next() { members.append(try decoder.decode(member.records)) }
        XCTAssertEqual(members.count, 3)
        XCTAssertEqual(reader.labels.count, 3)

        XCTAssertEqual(try PipelineRecords.Label(decoding: reader.labels[0]), label(sequence: 1))
        XCTAssertTrue(PipelineRecords.isLabel(reader.labels[0]))
        XCTAssertNil(try PipelineRecords.decodeLateMetadata(reader.labels[0]))

        assertFields(members[0], file, compression: "gzip")
        XCTAssertEqual(members[1].link, file.path)
        XCTAssertEqual(members[1].path, link.path)
        XCTAssertEqual(members[1].fileIndex, 2)
        XCTAssertNil(members[1].sourceSHA256)
        assertFields(members[2], fileRecord(index: 3), compression: nil, metadata: [:])

        let late = try XCTUnwrap(try PipelineRecords.decodeLateMetadata(reader.labels[1]))
        XCTAssertEqual(late.fileIndex, 3)
        XCTAssertEqual(late.metadata, final.stageMetadata)

        let trailer = try PipelineRecords.Trailer(decoding: reader.labels[2])
        XCTAssertTrue(trailer.present)
        XCTAssertEqual(trailer.jobID, 7)
        XCTAssertEqual(trailer.end, FileStat.Timestamp(seconds: 1_700_000_100, nanoseconds: 42))
        XCTAssertEqual(trailer.count("files_stored"), 3)
        XCTAssertEqual(trailer.count("bytes_read"), 1_234_567)
        XCTAssertEqual(trailer.count("errors"), 0)
        XCTAssertEqual(trailer.deleted, deletedPaths)
    }

    private func assertFields(
        _ fields: PipelineRecords.Member, _ record: FileRecord, compression: String?, metadata: [String: String]? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(fields.jobID, record.jobID.rawValue, file: file, line: line)
        XCTAssertEqual(fields.fileIndex, record.fileIndex, file: file, line: line)
        XCTAssertEqual(fields.path, record.path, file: file, line: line)
        XCTAssertEqual(fields.size, record.size, file: file, line: line)
        XCTAssertEqual(fields.device, record.device, file: file, line: line)
        XCTAssertEqual(fields.inode, record.inode, file: file, line: line)
        XCTAssertEqual(fields.nlink, record.nlink, file: file, line: line)
        XCTAssertEqual(fields.sourceSHA256, record.sourceSHA256, file: file, line: line)
        XCTAssertEqual(fields.storedSHA256, record.storedSHA256, file: file, line: line)
        XCTAssertEqual(fields.signatureAlgorithm, record.signatureAlgorithm, file: file, line: line)
        XCTAssertEqual(fields.signature, record.signature, file: file, line: line)
        XCTAssertEqual(fields.chain, record.chain, file: file, line: line)
        XCTAssertEqual(fields.stageMetadata, metadata ?? record.stageMetadata, file: file, line: line)
        XCTAssertEqual(fields.block, record.block, file: file, line: line)
        XCTAssertEqual(fields.compression, compression, file: file, line: line)
        XCTAssertNil(fields.link, file: file, line: line)
    }

    func testTheLabelsClientIsOptionalAndPartOfTheJob() throws {
        let named = label(sequence: 1)
        XCTAssertEqual(
            named.records.filter { $0.key == "OPTIONPIPELINE.label.client" }.map(\.value), [Array("büro-fd".utf8)])
        XCTAssertEqual(try PipelineRecords.Label(decoding: named.records).clientName, "büro-fd")
        // A label of a build before the record existed.
        var older = named
        older.clientName = nil
        XCTAssertFalse(older.records.contains { $0.key == "OPTIONPIPELINE.label.client" })
        XCTAssertNil(try PipelineRecords.Label(decoding: older.records).clientName)
        // Volumes of one job name one client.
        XCTAssertTrue(named.sameJob(as: label(sequence: 2)))
        var other = label(sequence: 2)
        other.clientName = "elsewhere"
        XCTAssertFalse(named.sameJob(as: other))
        XCTAssertFalse(named.sameJob(as: older))
    }

    func testDecodeErrorsNameTheRecord() {
        var decoder = PipelineRecords.MemberDecoder()
        let bad: [(String, [UInt8])] = [
            (PipelineRecords.Key.index, Array("12x".utf8)), (PipelineRecords.Key.sourceSHA256, Array("abc".utf8)),
            (PipelineRecords.Key.signature, Array("SHA1".utf8)), (PipelineRecords.Key.chain, Array("{".utf8)),
        ]
        for (key, value) in bad {
            XCTAssertThrowsError(try decoder.decode([.init(key: key, value: value)])) { error in
                XCTAssertTrue("\(error)".contains(key), "\(error)")
            }
        }
        XCTAssertThrowsError(try PipelineRecords.Label(decoding: [PipelineRecords.label("job", "1")])) { error in
            XCTAssertTrue("\(error)".contains("has no OPTIONPIPELINE.label."), "\(error)")
        }
        XCTAssertThrowsError(try PipelineRecords.Trailer(decoding: [PipelineRecords.trailer("errors", "-1")]))
    }

    /// The label BackupJob writes (its own `decimalTime`) reads back with the same times.
    func testDecimalTimeMatchesTheLabelReader() {
        for time in [
            FileStat.Timestamp(seconds: 0, nanoseconds: 0), FileStat.Timestamp(seconds: 1, nanoseconds: 1),
            FileStat.Timestamp(seconds: -5, nanoseconds: 999_999_999),
        ] {
            XCTAssertEqual(PipelineRecords.timestamp(PipelineRecords.decimalTime(time)), time)
            XCTAssertEqual(BackupJob.decimalTime(time), PipelineRecords.decimalTime(time))
        }
    }
}
